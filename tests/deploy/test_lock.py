"""Pinned dependencies: the lock files cover pyproject.toml's ranges, carry hashes, agree with each other, and
are what `make install` and the images install from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.manifests import PORTS, ROOT, SERVICES

LOCK = ROOT / "requirements.lock"
IMAGE_LOCKS = {"api": ROOT / "deploy/requirements/api.lock", "executor": ROOT / "deploy/requirements/executor.lock"}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
REFRESH = "the lock is out of date: run `make lock` and commit requirements.lock and deploy/requirements/"


def pins(path: Path) -> dict[str, Version]:
    """name -> version of every pinned package, checking on the way that each carries at least one hash."""
    found: dict[str, Version] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        match = PIN.match(line)
        if match is None:
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        assert following.strip().startswith("--hash=sha256:"), f"{path.name}: {match['name']} has no hash"
        # A package may appear twice with different markers (one version per Python); keep the lowest.
        name, version = canonicalize_name(match["name"]), Version(match["version"])
        found[name] = min(found.get(name, version), version)
    return found


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def requirements(*extras: str) -> list[Requirement]:
    meta = project()
    wanted = [Requirement(text) for text in meta["dependencies"]]
    for extra in extras:
        for text in meta["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == canonicalize_name(meta["name"]):
                wanted.extend(requirements(*requirement.extras))
            else:
                wanted.append(requirement)
    return wanted


@pytest.mark.parametrize(
    ("lock", "extras"),
    [(LOCK, ("dev",)), (IMAGE_LOCKS["api"], ("gateway",)), (IMAGE_LOCKS["executor"], ("executor",))],
    ids=["requirements.lock", "api.lock", "executor.lock"],
)
def test_lock_covers_every_declared_dependency(lock: Path, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    for requirement in requirements(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in {lock.name}: {REFRESH}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock.name} pins {name}=={pinned[name]}, outside {requirement}: {REFRESH}"
        )


def test_image_locks_agree_with_the_development_lock() -> None:
    """The images run the versions the test suite ran with."""
    everything = pins(LOCK)
    for name, lock in IMAGE_LOCKS.items():
        for package, version in pins(lock).items():
            assert everything.get(package) == version, f"{name}.lock: {package}=={version}: {REFRESH}"
    assert "crewai" in pins(IMAGE_LOCKS["executor"])
    assert "crewai" not in pins(IMAGE_LOCKS["api"]), "the API images stay small: CrewAI only in the executor's"
    assert "pytest" not in pins(IMAGE_LOCKS["api"]) and "pytest" not in pins(IMAGE_LOCKS["executor"])


def test_make_install_uses_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^\$\(VENV\)/\.installed:(?P<deps>.*)$", makefile, re.MULTILINE)
    assert rule is not None and "$(LOCK)" in rule["deps"]
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.MULTILINE)
    assert re.search(r"^lock:", makefile, re.MULTILINE)


@pytest.mark.parametrize("service", SERVICES)
def test_images_install_from_a_lock_and_run_as_non_root(service: str) -> None:
    dockerfile = (ROOT / "deploy" / f"{service}.Dockerfile").read_text(encoding="utf-8")
    lock = "executor" if service == "executor" else "api"
    assert f"COPY deploy/requirements/{lock}.lock /tmp/requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --disable-pip-version-check --require-hashes -r /tmp/requirements.lock" in (
        dockerfile
    )
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user == ["10001:10001"], "numeric, so Kubernetes can verify runAsNonRoot"
    assert f"EXPOSE {PORTS[service]}" in dockerfile
    assert f'CMD ["python", "-m", "services.{service}", "serve"]' in dockerfile
    assert "PYTHONDONTWRITEBYTECODE=1" in dockerfile, "the root filesystem may be read-only"
    # The copied sources stay owned by root: the service cannot rewrite its own code.
    assert "--chown" not in dockerfile
