"""Configuration read once from the environment (`ECHO_*`), as documented in docs/configuration.md."""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from typing import Literal
from uuid import UUID

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("echoai.settings")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECHO_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/echoai"
    db_pool_size: int = 10
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    broker_namespace: str = "echo"
    broker_publish_timeout_seconds: float = 4.0
    memcached_servers: str = "127.0.0.1:11211"
    cache_enabled: bool = True
    cache_ttl_seconds: int = 300
    cache_timeout_seconds: float = 0.05
    # Sessions whose JSON is estimated at or under this many bytes are read straight from PostgreSQL (one query,
    # as cheap as a version check); larger ones go through the session cache. -1 caches every session.
    session_cache_inline_bytes: int = 32 * 1024
    auth_enforcement: Literal["required", "optional"] = "required"
    anonymous_user_id: UUID = UUID("00000000-0000-0000-0000-000000000000")
    admin_user_id: UUID = UUID("00000000-0000-0000-0000-000000000001")
    admin_email: str = "admin@echoai.local"
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_public_key: str | None = None
    jwt_private_key: SecretStr | None = None
    jwt_issuer: str = "echoai"
    jwt_audience: str = "echoai"
    jwt_ttl_seconds: int = 3600
    transparency_enabled: bool = True
    step_ttl_seconds: int = 60
    # Live step events in the gateway: per-run replay buffer, memory caps, per-client queue, WebSocket auth wait.
    step_buffer_events: int = 10_000
    step_max_runs: int = 5_000
    step_buffer_max_bytes: int = 128 * 1024 * 1024
    ws_client_queue_size: int = 1_000
    ws_auth_timeout_seconds: float = 5.0
    workflow_fs_root: str = "./var/workflows"
    default_llm: str = "echo/echo-1"
    executor_concurrency: int = 4
    # The executor keeps the workflows its sends read, up to this many bytes of JSON, until the workflow service
    # announces a change (`services/executor/definitions.py`); 0 reads every send's workflow over HTTP.
    workflow_cache_bytes: int = 16 * 1024 * 1024
    # false: an executor that serves its API (and sweeps timeouts) but takes no run requests.
    executor_consume: bool = True
    # How often each executor looks for checkpoints past their `hitl.timeout_s` (and refreshes the pending gauge).
    checkpoint_sweep_seconds: float = 1.0
    host: str = "127.0.0.1"
    gateway_port: int = 8000
    workflow_port: int = 8001
    session_port: int = 8002
    executor_port: int = 8003
    # Where the gateway and the executor reach the other services; derived from the ports when unset.
    workflow_url: str | None = None
    session_url: str | None = None
    executor_url: str | None = None
    proxy_timeout_seconds: float = 30.0
    log_level: str = "INFO"
    # Set by `make run` so that every service of one platform shares the dev key.
    generated_jwt_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    # Gateway: failed logins allowed per account (ten times as many per client address) within the window, shared
    # by every replica through the gateway's schema; then 429 with Retry-After. The client address is the socket
    # peer unless the peer is one of these comma-separated reverse proxies (addresses or networks), whose
    # X-Forwarded-For then names the client; empty trusts nobody's.
    login_max_failures: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    forwarded_allow_ips: str = ""

    @model_validator(mode="after")
    def _check_keys(self) -> Settings:
        if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
            raise ValueError("ECHO_JWT_ALGORITHM=RS256 needs ECHO_JWT_PUBLIC_KEY (a PEM public key).")
        if self.jwt_algorithm == "HS256" and self.jwt_secret is None and self.env == "production":
            raise ValueError("ECHO_JWT_SECRET must be set when ECHO_ENV=production.")
        return self

    @property
    def signing_secret(self) -> str:
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return self.generated_jwt_secret.get_secret_value()

    def service_url(self, name: Literal["workflow", "session", "executor"]) -> str:
        explicit = getattr(self, f"{name}_url")
        if explicit:
            return str(explicit).rstrip("/")
        return f"http://127.0.0.1:{getattr(self, f'{name}_port')}"

    @property
    def memcached_server_list(self) -> list[tuple[str, int]]:
        servers = []
        for item in self.memcached_servers.split(","):
            item = item.strip()
            if not item:
                continue
            host, _, port = item.rpartition(":")
            servers.append((host or item, int(port) if port.isdigit() else 11211))
        return servers

    # -- browser origins allowed to call the gateway (CORS for HTTP, the Origin check of WebSockets) ----------
    # Comma-separated `scheme://host[:port]`; empty: same-origin only. `*` is refused: the gateway accepts
    # credentials (the Authorization header) from the origins it allows.
    cors_origins: str = ""

    @model_validator(mode="after")
    def _check_cors_origins(self) -> Settings:
        for origin in self.cors_origin_list:
            if origin == "*":
                raise ValueError(
                    "ECHO_CORS_ORIGINS must list origins one by one: '*' is refused because the gateway accepts "
                    "credentials (the Authorization header) from the origins it allows."
                )
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError(
                    f"ECHO_CORS_ORIGINS: {origin!r} is not an origin; write scheme://host[:port] with no path, "
                    "e.g. http://localhost:5173."
                )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/").lower() for o in self.cors_origins.split(",") if o.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    if settings.jwt_algorithm == "HS256" and settings.jwt_secret is None:
        log.warning(
            "ECHO_JWT_SECRET is not set: using a random per-process key. Tokens will not survive a restart "
            "and other services will reject them. Set ECHO_JWT_SECRET for anything but a quick try."
        )
    return settings
