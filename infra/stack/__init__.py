"""Start, stop and inspect the local stack without Docker.

Kafka, Cassandra (standing in for ScyllaDB) and S3Proxy run from jars that Maven fetches into the
state folder, one small pom per service under infra/<svc>/; Redis is Debian's redis-server. Each
process runs in a session of its own, so it outlives the command that started it, and its pid is
recorded in the state folder: `down` stops those processes and nothing else.

One module per engine (kafka, cassandra, redis, s3: endpoint, command line, readiness probe);
processes and pid files in `processes`, jars and templates in `files`, the state folder in
`state`; `control` runs up, down and status over all of them.
"""

from __future__ import annotations

from infra.stack.control import SERVICE_NAMES, SERVICES, down, status, up
from infra.stack.service import ServiceStatus, StackError

__all__ = ["ServiceStatus", "StackError", "SERVICE_NAMES", "SERVICES", "up", "down", "status"]
