# One image for the gateway and the worker, entry point `stories`:
#
#   docker build -t stories .
#   docker run stories                 # stories gateway, on 0.0.0.0:8000
#   docker run stories worker          # the worker, /metrics /healthz /readyz on 0.0.0.0:9108
#   docker run stories init            # topics, CQL schema, bucket (idempotent)
#
# Point it at the engines with STORIES_* variables (README, "Configuration"); infra/compose.yaml
# runs it beside ScyllaDB, Kafka, Redis and MinIO (docs/local-stack.md, "With Docker instead").
# The wheels bundle what they link (PyAV its FFmpeg, Pillow its codecs): no system package needed.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/stories
# The dependencies from the hashed runtime lock: a layer that changes only with the lock.
COPY requirements/runtime.txt /tmp/runtime.txt
RUN /opt/stories/bin/pip install --require-hashes -r /tmp/runtime.txt
# Then the product, without dependencies: the lock has them all (.dockerignore lists what is copied).
COPY . /src
RUN /opt/stories/bin/pip install --no-deps /src

FROM ${PYTHON_IMAGE}
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/stories --create-home stories
COPY --from=build /opt/stories /opt/stories
# Listen on every interface of the container; the worker's faust data folder is the working one.
ENV PATH=/opt/stories/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STORIES_STATE_DIR=/var/lib/stories/state \
    STORIES_GATEWAY_HOST=0.0.0.0 \
    STORIES_WORKER_METRICS_HOST=0.0.0.0
USER 10001:10001
WORKDIR /var/lib/stories
# The gateway's port (STORIES_GATEWAY_PORT) and the worker's (STORIES_WORKER_METRICS_PORT).
EXPOSE 8000 9108
# Alive when /healthz answers 200: the gateway's, or else the worker's (one image, either command).
# A shell, for the ports' defaults and the fallback.
# hadolint ignore=DL3025
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD probe() { python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$1/healthz"; }; \
        probe "${STORIES_GATEWAY_PORT:-8000}" 2>/dev/null || probe "${STORIES_WORKER_METRICS_PORT:-9108}"
ENTRYPOINT ["stories"]
CMD ["gateway"]
