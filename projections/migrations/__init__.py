"""Versioned CQL migrations: NNNN_name.cql files, applied in order, recorded once each."""
