"""docker-compose.yml: valid against the Compose Specification's schema, and wired so that `docker compose up`
starts servers, then each service's migration, then the services, each with a health check."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from tests.deploy.manifests import PORTS, READINESS, ROOT, SERVICES, load_yaml

SCHEMA = ROOT / "deploy" / "schemas" / "compose-spec.json"
SERVERS = ("postgres", "rabbitmq", "memcached")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(ROOT / "docker-compose.yml")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def errors(validator: jsonschema.Draft201909Validator, document: dict[str, Any]) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


def test_compose_file_passes_the_compose_schema(compose: dict[str, Any], validator: Any) -> None:
    assert errors(validator, compose) == []


def test_the_schema_check_rejects_a_broken_file(compose: dict[str, Any], validator: Any) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["gateway"]["depends_on"]["migrate-gateway"]["condition"] = "service_finished"
    broken["services"]["session"]["healthcheck"]["retries"] = "many"
    broken["services"]["executor"]["volume"] = ["typo:/var/lib/echoai"]
    assert len(errors(validator, broken)) >= 3


def test_servers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    for name in SERVERS:
        assert "test" in services[name]["healthcheck"], name


@pytest.mark.parametrize("service", SERVICES)
def test_one_shot_migration_per_service(compose: dict[str, Any], service: str) -> None:
    services = compose["services"]
    migration = services[f"migrate-{service}"]
    assert migration["command"] == ["python", "-m", f"services.{service}", "migrate", "upgrade"]
    assert migration["restart"] == "no"
    assert migration["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # The migration runs the very image it migrates for.
    assert migration["image"] == services[service]["image"]
    assert migration["build"] == services[service]["build"]


@pytest.mark.parametrize("service", SERVICES)
def test_services_wait_for_their_migration_and_servers(compose: dict[str, Any], service: str) -> None:
    depends = compose["services"][service]["depends_on"]
    assert depends[f"migrate-{service}"] == {"condition": "service_completed_successfully"}
    assert depends["postgres"] == {"condition": "service_healthy"}
    if "/health/broker" in READINESS[service]:
        assert depends["rabbitmq"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("service", SERVICES)
def test_services_are_health_checked_locked_down_and_built_from_the_repo(compose: dict[str, Any], service: str) -> None:
    definition = compose["services"][service]
    test = definition["healthcheck"]["test"]
    assert test == ["CMD", "python", "-m", "tools.healthcheck", "--port", str(PORTS[service]), *READINESS[service]]
    assert definition["read_only"] is True
    assert "/tmp" in definition["tmpfs"]
    assert definition["build"]["context"] == "."
    assert (ROOT / definition["build"]["dockerfile"]).is_file()
    assert definition["build"]["dockerfile"] == f"deploy/{service}.Dockerfile"
    assert definition["environment"]["ECHO_HOST"] == "0.0.0.0"


def test_every_long_running_container_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, definition in compose["services"].items():
        if not name.startswith("migrate-"):
            assert "healthcheck" in definition, name


def test_only_the_gateway_is_published(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["gateway"]["ports"] == ["127.0.0.1:8000:8000"]
    for name in ("workflow", "session", "executor"):
        # No host port, so `docker compose up --scale executor=3` works.
        assert "ports" not in services[name], name


def test_writable_places_are_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "workflowfs:/var/lib/echoai/workflows" in services["workflow"]["volumes"]
    assert "executordata:/var/lib/echoai" in services["executor"]["volumes"]
    dockerfile = (ROOT / "deploy" / "workflow.Dockerfile").read_text(encoding="utf-8")
    assert "ECHO_WORKFLOW_FS_ROOT=/var/lib/echoai/workflows" in dockerfile
