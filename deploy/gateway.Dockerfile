# EchoAI gateway service. Build from the repository root: docker build -f deploy/gateway.Dockerfile .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY tools ./tools
RUN pip install --no-cache-dir --prefix=/install ".[gateway]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /var/lib/echoai echoai && mkdir -p /var/lib/echoai && chown echoai /var/lib/echoai
COPY --from=build /install /usr/local
WORKDIR /app
COPY --chown=echoai shared ./shared
COPY --chown=echoai services ./services
COPY --chown=echoai tools ./tools
ENV PYTHONUNBUFFERED=1 ECHO_HOST=0.0.0.0
USER echoai
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD python -c "import os,urllib.request;urllib.request.urlopen('http://127.0.0.1:'+os.environ.get('ECHO_GATEWAY_PORT','8000')+'/health',timeout=2)"
CMD ["python", "-m", "services.gateway", "serve"]
