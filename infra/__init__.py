"""The local stack: Kafka, a CQL server, Redis and an S3 server, run by the project itself."""
