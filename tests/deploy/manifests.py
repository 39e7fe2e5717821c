"""Loading what the deployment checks look at: rendered kustomize overlays, docker-compose.yml, Dockerfiles."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = ("gateway", "workflow", "session", "executor")
PORTS = {"gateway": 8000, "workflow": 8001, "session": 8002, "executor": 8003}
# Which dependencies each service's readiness covers: the workflow service uses PostgreSQL only.
READINESS = {
    "gateway": ["/health/db", "/health/broker"],
    "workflow": ["/health/db"],
    "session": ["/health/db", "/health/broker"],
    "executor": ["/health/db", "/health/broker"],
}

Doc = dict[str, Any]


def kustomize(directory: Path) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: it renders the kustomize overlays (kubectl kustomize DIR)")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_spec(workload: Doc) -> Doc:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: Doc) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def env_of(container: Doc) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def mounted_volume(spec: Doc, container: Doc, path: str) -> Doc | None:
    """The pod volume mounted at `path` or above it in the container, if any."""
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        mount_path = mount["mountPath"].rstrip("/")
        if path == mount_path or path.startswith(mount_path + "/"):
            return volumes.get(mount["name"])
    return None
