# EchoAI workflow service (workflows, versions, working copies, agents, tools).
# Build from the repository root: docker build -f deploy/workflow.Dockerfile -t echoai/workflow .
# Dependencies: deploy/requirements/api.lock (shared by the gateway, workflow and session images),
# exact versions with hashes, refreshed by `make lock`. The code runs from /app as a non-root user; only /tmp
# and the volumes named below are written to, so the root filesystem can be read-only.
FROM python:3.11-slim AS build
COPY deploy/requirements/api.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes -r /tmp/requirements.lock

FROM python:3.11-slim
RUN groupadd --system --gid 10001 echoai \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/echoai echoai \
 && mkdir -p /var/lib/echoai /var/lib/echoai/workflows && chown -R echoai:echoai /var/lib/echoai
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY shared ./shared
COPY services ./services
COPY tools ./tools
# Compiled now, since the running container may not write next to the sources.
RUN /opt/venv/bin/python -m compileall -q shared services tools
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 ECHO_HOST=0.0.0.0
# Working copies: mount a volume here (compose: workflowfs; Kubernetes: emptyDir or a shared claim).
ENV ECHO_WORKFLOW_FS_ROOT=/var/lib/echoai/workflows
USER 10001:10001
EXPOSE 8001
# SIGTERM starts the graceful shutdown (stop accepting, drain, close connections, exit within 25 s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=8s --start-period=20s --retries=3 \
  CMD ["python", "-m", "tools.healthcheck", "--port", "8001", "/health/db"]
CMD ["python", "-m", "services.workflow", "serve"]
