"""The faults, one module per kind: worker processes, the services, the gateway, the API."""
