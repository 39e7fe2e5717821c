"""The Kubernetes manifests: both overlays render offline, every document passes the Kubernetes schemas, and
the pieces fit together (probes, security, migrations, autoscaling, selectors)."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    PORTS,
    READINESS,
    SERVICES,
    Doc,
    by_kind,
    env_of,
    kustomize,
    load_yaml,
    mounted_volume,
    pod_labels,
    pod_spec,
    selects,
)

# The oldest Kubernetes the manifests are meant for, and the newest whose schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, kustomize(K8S / "overlays" / request.param)


def validate(doc: Doc, version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_rendered_document_passes_the_kubernetes_schema(rendered: tuple[str, list[Doc]], version: str) -> None:
    overlay, docs = rendered
    failures = []
    for doc in docs:
        try:
            validate(doc, version)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_secret_template_passes_the_schema(version: str) -> None:
    validate(load_yaml(K8S / "secret.template.yaml"), version)


def test_the_validator_rejects_a_broken_manifest(rendered: tuple[str, list[Doc]]) -> None:
    """Strict validation is really on: an unknown field and a wrongly typed one are both refused."""
    _, docs = rendered
    deployment = copy.deepcopy(by_kind(docs, "Deployment")["gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGets"] = {"path": "/health"}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment, K8S_VERSIONS[-1])
    deployment = copy.deepcopy(by_kind(docs, "Deployment")["gateway"])
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment, K8S_VERSIONS[-1])


def test_one_deployment_and_service_per_service(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    assert sorted(by_kind(docs, "Deployment")) == sorted(SERVICES)
    assert sorted(by_kind(docs, "Service")) == sorted(SERVICES)


def test_everything_lives_in_the_overlay_namespace(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    namespaces = [doc["metadata"]["name"] for doc in docs if doc["kind"] == "Namespace"]
    assert len(namespaces) == 1
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespaces[0], f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_probes(rendered: tuple[str, list[Doc]], service: str) -> None:
    _, docs = rendered
    deployment = by_kind(docs, "Deployment")[service]
    (container,) = pod_spec(deployment)["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": PORTS[service]}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    command = container["readinessProbe"]["exec"]["command"]
    assert command == ["python", "-m", "tools.healthcheck", "--port", str(PORTS[service]), *READINESS[service]]
    # The probe's own timeout must leave the check's 3.5 s per URL room to answer.
    assert container["readinessProbe"]["timeoutSeconds"] >= 4 * len(READINESS[service])
    assert container["command"] == ["python", "-m", f"services.{service}", "serve"]


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_resources_and_security(rendered: tuple[str, list[Doc]], service: str) -> None:
    _, docs = rendered
    spec = pod_spec(by_kind(docs, "Deployment")[service])
    (container,) = spec["containers"]
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}, kind
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    tmp = mounted_volume(spec, container, "/tmp")
    assert tmp is not None and "emptyDir" in tmp, "/tmp must be a writable emptyDir"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_shuts_down_gracefully_and_is_scraped(rendered: tuple[str, list[Doc]], service: str) -> None:
    _, docs = rendered
    deployment = by_kind(docs, "Deployment")[service]
    spec = pod_spec(deployment)
    (container,) = spec["containers"]
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep" and int(sleep[1]) > 0
    # The preStop pause plus the service's 25 s drain must fit in the grace period.
    assert spec["terminationGracePeriodSeconds"] >= 30 + int(sleep[1])
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(PORTS[service]),
        "prometheus.io/path": "/metrics",
    }


def test_executor_keeps_crewai_quiet_and_writable(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    spec = pod_spec(by_kind(docs, "Deployment")["executor"])
    (container,) = spec["containers"]
    env = env_of(container)
    assert env["CREWAI_DISABLE_TELEMETRY"] == "true"
    assert env["OTEL_SDK_DISABLED"] == "true"
    assert env["CREWAI_TRACING_ENABLED"] == "false"
    for variable in ("HOME", "CREWAI_STORAGE_DIR"):
        volume = mounted_volume(spec, container, env[variable])
        assert volume is not None and "emptyDir" in volume, f"{variable}={env[variable]} is not on a writable volume"


def test_workflow_working_copies_are_on_a_volume(rendered: tuple[str, list[Doc]]) -> None:
    overlay, docs = rendered
    spec = pod_spec(by_kind(docs, "Deployment")["workflow"])
    (container,) = spec["containers"]
    volume = mounted_volume(spec, container, env_of(container)["ECHO_WORKFLOW_FS_ROOT"])
    assert volume is not None
    if overlay == "prod":
        # Several replicas: each must see every temp save, so the claim is shared and exists.
        claim = volume["persistentVolumeClaim"]["claimName"]
        pvc = by_kind(docs, "PersistentVolumeClaim")[claim]
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
        assert by_kind(docs, "Deployment")["workflow"]["spec"]["replicas"] > 1
    else:
        assert "emptyDir" in volume
        assert by_kind(docs, "Deployment")["workflow"]["spec"]["replicas"] == 1


@pytest.mark.parametrize("service", SERVICES)
def test_one_migration_job_per_service(rendered: tuple[str, list[Doc]], service: str) -> None:
    _, docs = rendered
    jobs = [job for job in by_kind(docs, "Job").values() if pod_labels(job).get("app.kubernetes.io/name") == service]
    assert len(jobs) == 1
    (job,) = jobs
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"
    spec = pod_spec(job)
    (container,) = spec["containers"]
    assert container["command"] == ["python", "-m", f"services.{service}", "migrate", "upgrade"]
    (server,) = pod_spec(by_kind(docs, "Deployment")[service])["containers"]
    assert container["image"] == server["image"], "a migration must come from the image it migrates for"
    assert container["envFrom"] == server["envFrom"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    # A migration Job's pods must never be picked up by the service's Service or PodDisruptionBudget.
    assert not selects(by_kind(docs, "Service")[service]["spec"]["selector"], pod_labels(job))


def test_services_select_their_own_pods(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    deployments = by_kind(docs, "Deployment")
    for name, service in by_kind(docs, "Service").items():
        matched = [d for d in deployments.values() if selects(service["spec"]["selector"], pod_labels(d))]
        assert [d["metadata"]["name"] for d in matched] == [name]
        (container,) = pod_spec(matched[0])["containers"]
        port_names = {port["name"] for port in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names
            assert port["port"] == PORTS[name], "the ECHO_*_URL values in the ConfigMap use these ports"


def test_the_gateway_service_suits_websockets(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    service = by_kind(docs, "Service")["gateway"]
    # Clients reconnect with after_seq to any replica, so no affinity is needed (nor wanted: it skews load).
    assert service["spec"]["sessionAffinity"] == "None"
    assert service["spec"]["type"] == "ClusterIP"


def test_disruption_budgets_select_existing_pods(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    deployments = by_kind(docs, "Deployment")
    budgets = by_kind(docs, "PodDisruptionBudget")
    assert sorted(budgets) == sorted(SERVICES)
    for name, budget in budgets.items():
        matched = [d for d in deployments.values() if selects(budget["spec"]["selector"]["matchLabels"], pod_labels(d))]
        assert [d["metadata"]["name"] for d in matched] == [name]
        # maxUnavailable keeps node drains possible even with one replica (minAvailable: 1 would block them).
        assert budget["spec"]["maxUnavailable"] == 1


def test_the_autoscaler_drives_the_executor(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler").values()
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "executor")
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    executor = by_kind(docs, "Deployment")["executor"]
    assert "replicas" not in executor["spec"], "the autoscaler owns the executor's replica count"
    (container,) = pod_spec(executor)["containers"]
    assert "cpu" in container["resources"]["requests"], "CPU utilisation is measured against the request"


def test_configuration_and_secret_references_resolve(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    config_maps = by_kind(docs, "ConfigMap")
    secret_name = load_yaml(K8S / "secret.template.yaml")["metadata"]["name"]
    assert not by_kind(docs, "Secret"), "real secrets are never part of an overlay"
    for workload in [*by_kind(docs, "Deployment").values(), *by_kind(docs, "Job").values()]:
        for container in pod_spec(workload)["containers"]:
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                else:
                    assert source["secretRef"]["name"] == secret_name
    (config,) = config_maps.values()
    assert all(key.startswith("ECHO_") for key in config["data"])
    assert config["data"]["ECHO_HOST"] == "0.0.0.0"
    assert config["data"]["ECHO_ENV"] == "production", "production refuses to start without ECHO_JWT_SECRET"
    for service in ("workflow", "session", "executor"):
        assert config["data"][f"ECHO_{service.upper()}_URL"] == f"http://{service}:{PORTS[service]}"


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_nothing_cluster_specific(rendered: tuple[str, list[Doc]]) -> None:
    overlay, docs = rendered
    assert not by_kind(docs, "Ingress"), "hosts and ingress classes belong to the operator's own overlay"
    for key, value in _walk(docs):
        assert key not in ("storageClassName", "nodeName", "loadBalancerIP", "host"), f"{overlay}: {key}={value}"
        if key == "image":
            registry = value.split("/")[0]
            assert "." not in registry and ":" not in registry and registry != "localhost", value
            assert value.startswith("echoai/") and ":" in value, f"{value}: tagged echoai/<service> images only"


def _labelled(docs: list[Doc], component: str, name: str | None = None) -> list[Doc]:
    """What `kubectl apply -l app.kubernetes.io/component=<component>[,app.kubernetes.io/name=<name>]` applies."""
    wanted = {"app.kubernetes.io/component": component, **({"app.kubernetes.io/name": name} if name else {})}
    return [d for d in docs if all(d["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]


def test_the_staged_apply_in_the_operations_guide_works(rendered: tuple[str, list[Doc]]) -> None:
    """`-l app.kubernetes.io/component=config` creates the namespace and the ConfigMap; then
    `-l app.kubernetes.io/component=migration` creates exactly the four Jobs, whose references all exist by then."""
    _, docs = rendered
    config = _labelled(docs, "config")
    assert sorted(d["kind"] for d in config) == ["ConfigMap", "Namespace"]
    migrations = _labelled(docs, "migration")
    assert sorted(d["metadata"]["name"] for d in migrations) == sorted(f"{s}-migrate" for s in SERVICES)
    assert {d["kind"] for d in migrations} == {"Job"}
    config_maps = {d["metadata"]["name"] for d in config if d["kind"] == "ConfigMap"}
    for job in migrations:
        for container in pod_spec(job)["containers"]:
            refs = {s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s}
            assert refs <= config_maps
    # One service alone: its own Job and nothing else.
    for service in SERVICES:
        only = _labelled(docs, "migration", service)
        assert [d["metadata"]["name"] for d in only] == [f"{service}-migrate"]
