"""The Helm chart: lint, render with default values and with every optional feature, validate
the output against Kubernetes 1.30+ schemas (kubernetes-validate, strict: unknown fields fail),
check the CRD kinds (ServiceMonitor, PrometheusRule) structurally, and assert what the design
promises: no replicas under the autoscaler, lossless rollouts, probes, drain timing,
non-root read-only containers, least-privilege RBAC, and a schema that rejects bad values."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv

from k8s_util import CHART, MONITORING, ROOT, find, k8s_versions, one, run
from k8s_util import helm, promtool, render  # noqa: F401  (fixtures)

ENGINE_CONFIG_KEYS = {
    "model", "served-model-name", "host", "port", "admin-port", "metrics-auth", "max-connections",
    "keep-alive-timeout", "device", "threads", "api-key", "kv-cache-fraction",
    "kv-blocks", "kv-cache-mb", "kv-cache-dtype", "block-size", "max-batch-tokens", "max-running", "max-queue", "max-prompt-tokens",
    "max-tokens-default", "request-timeout", "drain-timeout", "max-body-bytes", "http-threads",
    "prefix-caching", "log-json",
}
AUTOSCALER_CONFIG_KEYS = {
    "kubeconfig", "namespace", "deployment", "service", "metrics-port", "lease-name", "identity", "listen",
    "interval", "scrape-timeout", "min-replicas", "max-replicas", "target-waiting", "target-kv", "tolerance",
    "scale-up-period", "scale-up-factor", "scale-up-step", "scale-down-window", "scale-down-period",
    "scale-down-percent", "max-data-age", "kv-free-floor-bytes", "lease-duration", "renew-deadline",
    "retry-period", "dry-run", "log-json", "peak-decay", "max-running", "headroom", "forecast-horizon",
    "trend-window", "drain-time", "smoothing", "prefill-tokens-per-second", "target-prefill",
}
# (apiGroup, resource, verb) the sidecar needs, and nothing more.
LEAST_PRIVILEGE = {
    ("coordination.k8s.io", "leases", "get"), ("coordination.k8s.io", "leases", "create"),
    ("coordination.k8s.io", "leases", "update"),
    ("discovery.k8s.io", "endpointslices", "list"),
    ("apps", "deployments", "get"),
    ("apps", "deployments/scale", "get"), ("apps", "deployments/scale", "update"),
    ("", "events", "create"),
    ("", "pods", "list"),
}

EVERYTHING = {
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
    "dashboard": {"enabled": True, "namespace": "monitoring"},
    "gpu": {"count": 1},
    "apiKey": {"enabled": True, "keys": ["k-one", "k-two"]},
    "model": {"source": "initContainer", "file": "llama-3-8b.Q4_K_M.gguf", "servedModelName": "llama-3-8b",
              "initContainer": {"url": "https://models.example/llama-3-8b.Q4_K_M.gguf"}},
    "engine": {"config": {"max-queue": 128, "block-size": 32, "kv-cache-fraction": 0.9, "max-running": 48},
               "extraEnv": [{"name": "EXTRA", "value": "1"}]},
    "autoscaler": {"minReplicas": 2, "maxReplicas": 8, "dryRun": True, "config": {"kv-free-floor-bytes": 1 << 30}},
    "podAnnotations": {"a": "b"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                   "whenUnsatisfiable": "ScheduleAnyway",
                                   "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "turbine"}}}],
}
SCENARIOS = {
    "defaults": {},
    "everything": EVERYTHING,
    "autoscaler-off": {"autoscaler": {"enabled": False}, "replicaCount": 3, "prometheusRule": {"enabled": True},
                       "serviceMonitor": {"enabled": True}},
    "gpu-2": {"gpu": {"count": 2}},
    "model-pvc-subpath": {"model": {"source": "pvc", "pvc": {"claimName": "models", "subPath": "llama"}}},
    "model-hostpath": {"model": {"source": "hostPath", "hostPath": {"path": "/mnt/models"}}},
    "model-init": {"model": {"source": "initContainer", "initContainer": {"url": "https://models.example/m.gguf"}}},
    "apikey-existing-secret": {"apiKey": {"enabled": True, "existingSecret": "my-keys", "secretKey": "keys"}},
    "no-pdb-no-sa": {"podDisruptionBudget": {"enabled": False},
                     "serviceAccount": {"create": False, "name": "turbine-sa"}},
    "admin-off": {"engine": {"adminPort": 0}, "serviceMonitor": {"enabled": True}},
    "networkpolicy": {"networkPolicy": {"enabled": True}, "serviceMonitor": {"enabled": True}},
    "networkpolicy-admin-off": {"networkPolicy": {"enabled": True, "apiFrom": [{"podSelector": {}}]},
                                "engine": {"adminPort": 0}, "autoscaler": {"enabled": False}},
}


def deployment(docs):
    return one(docs, "Deployment")


def containers(docs) -> dict:
    return {c["name"]: c for c in deployment(docs)["spec"]["template"]["spec"]["containers"]}


def configmap(docs):
    return one(docs, "ConfigMap", deployment(docs)["metadata"]["name"])


def engine_config(docs) -> dict:
    return yaml.safe_load(configmap(docs)["data"]["engine.yaml"])


def autoscaler_config(docs) -> dict:
    return yaml.safe_load(configmap(docs)["data"]["autoscaler.yaml"])


# ---- lint and schema validation --------------------------------------------------------------

@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_helm_lint(helm, values, tmp_path):
    f = tmp_path / "values.yaml"
    f.write_text(yaml.safe_dump(values))
    r = run([helm, "lint", "--strict", CHART, "-f", f])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 chart(s) failed" in r.stdout


# Hand-written structural schemas for the prometheus-operator kinds (their CRDs are not part of
# the Kubernetes schemas); they cover the fields the chart sets.
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_META = {"type": "object", "required": ["name", "namespace"],
         "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                        "namespace": {"type": "string"}, "labels": _STR_MAP}}
_DURATION = {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d|w|y))+$"}
SERVICE_MONITOR_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"}, "metadata": _META,
        "spec": {"type": "object", "additionalProperties": False, "required": ["selector", "endpoints"],
                 "properties": {
                     "jobLabel": {"type": "string"},
                     "namespaceSelector": {"type": "object", "additionalProperties": False,
                                           "properties": {"matchNames": {"type": "array", "items": {"type": "string"}},
                                                          "any": {"type": "boolean"}}},
                     "selector": {"type": "object", "additionalProperties": False, "required": ["matchLabels"],
                                  "properties": {"matchLabels": _STR_MAP}},
                     "endpoints": {"type": "array", "minItems": 1, "items": {
                         "type": "object", "additionalProperties": False, "required": ["port"],
                         "properties": {"port": {"type": "string"}, "path": {"type": "string", "pattern": "^/"},
                                        "interval": _DURATION, "scrapeTimeout": _DURATION}}}}}},
}
PROMETHEUS_RULE_SCHEMA = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"}, "metadata": _META,
        "spec": {"type": "object", "additionalProperties": False, "required": ["groups"], "properties": {
            "groups": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "rules"],
                "properties": {"name": {"type": "string"}, "interval": _DURATION, "rules": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "required": ["expr"],
                    "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
                    "properties": {"record": {"type": "string"}, "alert": {"type": "string"},
                                   "expr": {"type": "string"}, "for": _DURATION,
                                   "labels": _STR_MAP, "annotations": _STR_MAP}}}}}}}}},
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_objects_validate_against_kubernetes_schemas(render, scenario):
    docs = render(SCENARIOS[scenario])
    assert docs, "nothing rendered"
    kinds = set()
    for doc in docs:
        kinds.add(doc["kind"])
        assert doc["metadata"].get("namespace"), f"{doc['kind']} {doc['metadata']['name']} has no namespace"
        if doc["kind"] == "ServiceMonitor":
            jsonschema.validate(doc, SERVICE_MONITOR_SCHEMA)
            continue
        if doc["kind"] == "PrometheusRule":
            jsonschema.validate(doc, PROMETHEUS_RULE_SCHEMA)
            continue
        for version in k8s_versions():
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                pytest.fail(f"{scenario}: {doc['kind']} {doc['metadata']['name']} is invalid for "
                            f"Kubernetes {version}: {e}")
    assert {"Deployment", "Service", "ConfigMap", "Pod"} <= kinds


def test_validation_covers_kubernetes_1_30_and_newer():
    versions = k8s_versions()
    assert versions[0] == "1.30.0", versions


def test_validator_catches_a_broken_object(render):
    """The strict validation is not vacuous: a misspelled field fails it."""
    doc = json.loads(json.dumps(deployment(render())))
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(doc, "1.30.0", strict=True)


# ---- the Deployment ---------------------------------------------------------------------------

def test_no_replicas_under_the_autoscaler(render):
    assert "replicas" not in deployment(render())["spec"]
    assert "replicas" not in deployment(render(EVERYTHING))["spec"]
    assert deployment(render(SCENARIOS["autoscaler-off"]))["spec"]["replicas"] == 3


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rollouts_add_before_they_remove(render, scenario):
    strategy = deployment(render(SCENARIOS[scenario]))["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert strategy["rollingUpdate"]["maxSurge"] >= 1


def test_engine_container(render):
    docs = render()
    engine = containers(docs)["engine"]
    assert engine["command"] == ["/usr/local/bin/turbine"]
    assert engine["args"] == ["serve", "--config", "/etc/turbine/engine.yaml"]
    assert engine["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"},
                               {"name": "admin", "containerPort": 8001, "protocol": "TCP"}]
    # The probes go to the admin listener, which no API load or slow client can starve.
    probes = {k: (engine[k]["httpGet"]["path"], engine[k]["httpGet"]["port"])
              for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes == {"startupProbe": ("/health", "admin"), "readinessProbe": ("/ready", "admin"),
                      "livenessProbe": ("/health", "admin")}
    assert engine_config(docs)["admin-port"] == 8001
    # Loading a large model takes minutes: the startup budget must allow it.
    sp = engine["startupProbe"]
    assert sp["periodSeconds"] * sp["failureThreshold"] >= 300
    mounts = {m["mountPath"]: m for m in engine["volumeMounts"]}
    assert mounts["/models"]["readOnly"] is True
    assert mounts["/etc/turbine"]["readOnly"] is True
    assert "/tmp" in mounts


@pytest.mark.parametrize("scenario", ["defaults", "everything"])
def test_drain_fits_in_the_grace_period(render, scenario):
    docs = render(SCENARIOS[scenario])
    pod = deployment(docs)["spec"]["template"]["spec"]
    engine = containers(docs)["engine"]
    cmd = engine["lifecycle"]["preStop"]["exec"]["command"]
    assert cmd[0] == "sleep"
    pre_stop = int(cmd[1])
    assert 1 <= pre_stop <= 30
    drain = engine_config(docs)["drain-timeout"]
    assert drain == 30
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain


def test_grace_period_override(render):
    docs = render({"terminationGracePeriodSeconds": 120, "engine": {"drainTimeoutSeconds": 90}})
    assert deployment(docs)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    assert engine_config(docs)["drain-timeout"] == 90


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_non_root_read_only(render, scenario):
    docs = render(SCENARIOS[scenario])
    pods = [deployment(docs)["spec"]["template"]["spec"]] + [p["spec"] for p in find(docs, "Pod")]
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for c in pod.get("initContainers", []) + pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])) or c["name"] == "models", \
                f"{c['name']} has no writable /tmp"
    volumes = {v["name"]: v for v in pods[0]["volumes"]}
    assert "emptyDir" in volumes["tmp"]


def test_sidecar(render):
    docs = render()
    pod = deployment(docs)["spec"]["template"]["spec"]
    side = containers(docs)["autoscaler"]
    assert side["command"] == ["/usr/local/bin/turbine-autoscaler"]
    assert side["args"] == ["run", "--config", "/etc/turbine/autoscaler.yaml"]
    env = {e["name"]: e for e in side["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert side["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "autoscaler"}
    # The pod's readiness must stay the engine's alone.
    assert "readinessProbe" not in side
    assert pod["automountServiceAccountToken"] is True
    cfg = autoscaler_config(docs)
    assert set(cfg) <= AUTOSCALER_CONFIG_KEYS, set(cfg) - AUTOSCALER_CONFIG_KEYS
    assert cfg["deployment"] == deployment(docs)["metadata"]["name"]
    assert cfg["service"] == one(docs, "Service")["metadata"]["name"]
    assert cfg["namespace"] == "default"
    # It scrapes the engines' admin port.
    assert cfg["metrics-port"] == {p["name"]: p for p in containers(docs)["engine"]["ports"]}["admin"]["containerPort"]
    assert cfg["listen"] == f"0.0.0.0:{side['ports'][0]['containerPort']}"
    assert cfg["lease-name"] == "turbine-autoscaler"
    assert (cfg["min-replicas"], cfg["max-replicas"], cfg["dry-run"]) == (1, 4, False)
    assert (cfg["target-waiting"], cfg["target-kv"], cfg["tolerance"]) == (4, 0.8, 0.1)
    assert (cfg["interval"], cfg["scale-up-period"], cfg["scale-down-window"]) == (15, 15, 120)
    assert (cfg["peak-decay"], cfg["forecast-horizon"], cfg["headroom"]) == (600, 90, 1)
    assert "max-running" not in cfg  # the engine's default, which is the sidecar's too
    cfg = autoscaler_config(render(EVERYTHING))
    assert (cfg["min-replicas"], cfg["max-replicas"], cfg["dry-run"]) == (2, 8, True)
    assert cfg["kv-free-floor-bytes"] == 1 << 30
    assert cfg["max-running"] == 48  # follows the engine's, so the slot model counts its slots


def test_without_an_admin_port_everything_is_on_the_api_port(render):
    docs = render(SCENARIOS["admin-off"])
    engine = containers(docs)["engine"]
    assert [p["name"] for p in engine["ports"]] == ["http"]
    for k in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert engine[k]["httpGet"]["port"] == "http", k
    assert "admin-port" not in engine_config(docs)
    assert autoscaler_config(docs)["metrics-port"] == 8000
    assert [p["name"] for p in one(docs, "Service")["spec"]["ports"]] == ["http", "autoscaler"]
    assert [e["port"] for e in one(docs, "ServiceMonitor")["spec"]["endpoints"]] == ["http", "autoscaler"]


def test_admin_port_equal_to_the_api_port_fails(helm, tmp_path):
    f = tmp_path / "values.yaml"
    f.write_text(yaml.safe_dump({"engine": {"port": 8000, "adminPort": 8000}}))
    r = run([helm, "template", "x", CHART, "-f", f])
    assert r.returncode != 0 and "adminPort must differ" in r.stderr, r.stderr


def test_network_policy(render):
    assert not find(render(), "NetworkPolicy")  # off by default
    docs = render(SCENARIOS["networkpolicy"])
    np = one(docs, "NetworkPolicy")
    spec = np["spec"]
    assert spec["podSelector"]["matchLabels"] == deployment(docs)["spec"]["selector"]["matchLabels"]
    assert spec["policyTypes"] == ["Ingress"]
    api, probes = spec["ingress"]
    assert api["ports"] == [{"port": "http", "protocol": "TCP"}] and "from" not in api  # open to all
    assert [p["port"] for p in probes["ports"]] == ["admin", "autoscaler"]
    peers = probes["from"]
    # Sibling pods of the release (the autoscaler scrapes each engine) ...
    assert peers[0]["podSelector"]["matchLabels"] == spec["podSelector"]["matchLabels"]
    # ... and the Prometheus namespace.
    assert peers[1]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    # Every port the policy names is a port of the engine pod.
    names = {p["name"] for c in containers(docs).values() for p in c.get("ports", [])}
    assert {p["port"] for rule in spec["ingress"] for p in rule["ports"]} <= names
    # Without the admin port and the sidecar, only the API rule is left, with its own peers.
    docs = render(SCENARIOS["networkpolicy-admin-off"])
    (api,) = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert api["from"] == [{"podSelector": {}}]


def test_autoscaler_off(render):
    docs = render(SCENARIOS["autoscaler-off"])
    assert set(containers(docs)) == {"engine"}
    assert deployment(docs)["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert not find(docs, "Role") and not find(docs, "RoleBinding")
    assert "autoscaler.yaml" not in configmap(docs)["data"]
    assert [p["name"] for p in one(docs, "Service")["spec"]["ports"]] == ["http", "admin"]
    assert [e["port"] for e in one(docs, "ServiceMonitor")["spec"]["endpoints"]] == ["admin"]
    rules = one(docs, "PrometheusRule")["spec"]["groups"]
    names = [r.get("alert") for g in rules for r in g["rules"]]
    assert "TurbineAutoscalerNoLeader" not in names and "TurbineKVCacheSaturated" in names


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_engine_config_file(render, scenario):
    docs = render(SCENARIOS[scenario])
    cfg = engine_config(docs)
    assert set(cfg) <= ENGINE_CONFIG_KEYS, set(cfg) - ENGINE_CONFIG_KEYS
    assert cfg["host"] == "0.0.0.0" and cfg["port"] == 8000
    assert cfg["model"].startswith("/models/") and cfg["model"].endswith(".gguf")
    assert "api-key" not in cfg, "API keys belong in a Secret"
    assert "checksum/config" in deployment(docs)["spec"]["template"]["metadata"]["annotations"]


def _source_keys(path, pattern):
    f = ROOT / path
    if not f.exists():
        pytest.skip(f"{path} not present")
    return set(re.findall(pattern, f.read_text()))


def test_config_keys_match_the_binaries():
    """The keys the chart writes and the schema allows are those the binaries accept (their
    config loaders reject unknown keys)."""
    engine = _source_keys("engine/server/serve_config.cpp", r'\{"([a-z-]+)", (?:set\(|\[)')
    assert engine == ENGINE_CONFIG_KEYS, engine ^ ENGINE_CONFIG_KEYS
    sidecar = _source_keys("sidecar/config.cpp", r'(?m)^\s*\{"([a-z-]+)", "')
    sidecar = {k for k in sidecar if k not in ("up", "down", "hold")}
    assert sidecar == AUTOSCALER_CONFIG_KEYS, sidecar ^ AUTOSCALER_CONFIG_KEYS
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]
    assert set(schema["engine"]["properties"]["config"]["properties"]) <= ENGINE_CONFIG_KEYS
    assert set(schema["autoscaler"]["properties"]["config"]["properties"]) <= AUTOSCALER_CONFIG_KEYS


@pytest.mark.parametrize("scenario", ["defaults", "everything"])
def test_engine_accepts_the_rendered_config(render, scenario, tmp_path):
    """`turbine serve --config` reads the chart's engine.yaml; it gets as far as opening the
    (absent) model, so every key and value type passed its loader."""
    exe = pathlib.Path(os.environ.get("TURBINE_BIN", ROOT / "build" / "bin")) / "turbine"
    if not exe.exists():
        pytest.skip(f"{exe} not built")
    cfg = engine_config(render(SCENARIOS[scenario]))
    cfg["model"] = str(tmp_path / "absent.gguf")
    f = tmp_path / "engine.yaml"
    f.write_text(yaml.safe_dump(cfg))
    r = run([exe, "serve", "--config", f], timeout=30)
    assert r.returncode != 0
    assert "config file" not in r.stderr, r.stderr
    assert "absent.gguf" in r.stderr, r.stderr


# ---- GPU, model sources, API keys --------------------------------------------------------------

def test_gpu_resources(render):
    cpu = render()
    assert "nvidia.com/gpu" not in json.dumps(deployment(cpu))
    assert engine_config(cpu)["device"] == "cpu"
    gpu = render(SCENARIOS["gpu-2"])
    engine = containers(gpu)["engine"]
    assert engine["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert engine["resources"]["limits"]["memory"] == "8Gi"  # the other limits stay
    assert engine_config(gpu)["device"] == "cuda"
    assert "threads" not in engine_config(gpu)
    assert "nvidia.com/gpu" not in json.dumps(containers(gpu)["autoscaler"])
    # Device-memory pressure: a free-memory floor on GPUs (off on CPU), overridable.
    assert "kv-free-floor-bytes" not in autoscaler_config(cpu)
    assert autoscaler_config(gpu)["kv-free-floor-bytes"] == 1 << 30
    own = render({**SCENARIOS["gpu-2"], "autoscaler": {"config": {"kv-free-floor-bytes": 5}}})
    assert autoscaler_config(own)["kv-free-floor-bytes"] == 5


@pytest.mark.parametrize("cpu,threads", [("2", 2), ("500m", 1), ("3500m", 3), (6, 6)])
def test_cpu_threads_follow_the_cpu_request(render, cpu, threads):
    """Not one thread per core of the node: the pod gets only its CPU request."""
    assert engine_config(render({"engine": {"resources": {"requests": {"cpu": cpu}}}}))["threads"] == threads
    assert engine_config(render({"engine": {"config": {"threads": 9}}}))["threads"] == 9


def _models_volume(docs):
    pod = deployment(docs)["spec"]["template"]["spec"]
    return pod, {v["name"]: v for v in pod["volumes"]}["models"]


def test_model_from_pvc(render):
    pod, vol = _models_volume(render(SCENARIOS["model-pvc-subpath"]))
    assert vol["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "models"][0]
    assert mount["subPath"] == "llama"
    assert "initContainers" not in pod
    _, vol = _models_volume(render())
    assert vol["persistentVolumeClaim"]["claimName"] == "turbine-models"


def test_model_from_host_path(render):
    pod, vol = _models_volume(render(SCENARIOS["model-hostpath"]))
    assert vol["hostPath"] == {"path": "/mnt/models", "type": "Directory"}
    assert "initContainers" not in pod


def test_model_from_init_container(render):
    docs = render(EVERYTHING)
    pod, vol = _models_volume(docs)
    assert "emptyDir" in vol
    (init,) = pod["initContainers"]
    env = {e["name"]: e.get("value") for e in init["env"]}
    assert env["MODEL_URL"] == "https://models.example/llama-3-8b.Q4_K_M.gguf"
    assert env["MODEL_FILE"] == "llama-3-8b.Q4_K_M.gguf"
    assert {"name": "models", "mountPath": "/models"} in init["volumeMounts"]
    cfg = engine_config(docs)
    assert cfg["model"] == "/models/llama-3-8b.Q4_K_M.gguf"
    assert cfg["served-model-name"] == "llama-3-8b"
    assert (cfg["max-queue"], cfg["block-size"], cfg["kv-cache-fraction"]) == (128, 32, 0.9)


def test_api_keys_from_a_secret(render):
    docs = render(EVERYTHING)
    secret = one(docs, "Secret")
    assert secret["stringData"] == {"api-keys": "k-one,k-two"}
    env = {e["name"]: e for e in containers(docs)["engine"]["env"]}
    ref = env["TURBINE_API_KEYS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": secret["metadata"]["name"], "key": "api-keys"}
    assert env["EXTRA"]["value"] == "1"
    assert "k-one" not in json.dumps(configmap(docs))
    test_pod = one(docs, "Pod")
    assert test_pod["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"] == ref
    docs = render(SCENARIOS["apikey-existing-secret"])
    assert not find(docs, "Secret")
    env = {e["name"]: e for e in containers(docs)["engine"]["env"]}
    assert env["TURBINE_API_KEYS"]["valueFrom"]["secretKeyRef"] == {"name": "my-keys", "key": "keys"}
    assert "env" not in containers(render())["engine"]


# ---- RBAC, Service, PDB, test pod ----------------------------------------------------------------

def test_rbac_is_least_privilege(render):
    docs = render()
    assert not find(docs, "ClusterRole") and not find(docs, "ClusterRoleBinding")
    role = one(docs, "Role")
    granted = set()
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, res, verb), rule
                    granted.add((group, res, verb))
    assert granted == LEAST_PRIVILEGE
    named = {(r["resources"][0], v): r.get("resourceNames") for r in role["rules"] for v in r["verbs"]}
    assert named[("deployments/scale", "update")] == ["turbine"]
    assert named[("deployments", "get")] == ["turbine"]
    assert named[("leases", "update")] == ["turbine-autoscaler"]
    binding = one(docs, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    sa = deployment(docs)["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "default"}]
    assert one(docs, "ServiceAccount")["metadata"]["name"] == sa


def test_existing_service_account(render):
    docs = render(SCENARIOS["no-pdb-no-sa"])
    assert not find(docs, "ServiceAccount") and not find(docs, "PodDisruptionBudget")
    assert deployment(docs)["spec"]["template"]["spec"]["serviceAccountName"] == "turbine-sa"
    assert one(docs, "RoleBinding")["subjects"][0]["name"] == "turbine-sa"


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_selectors(render):
    docs = render(EVERYTHING)
    pod_labels = deployment(docs)["spec"]["template"]["metadata"]["labels"]
    svc = one(docs, "Service")
    assert _matches(svc["spec"]["selector"], pod_labels)
    assert _matches(deployment(docs)["spec"]["selector"]["matchLabels"], pod_labels)
    pdb = one(docs, "PodDisruptionBudget")
    assert _matches(pdb["spec"]["selector"]["matchLabels"], pod_labels)
    assert pdb["spec"]["maxUnavailable"] == 1
    # The helm test pod must not become an endpoint of the Service (the sidecar scrapes those).
    test_pod = one(docs, "Pod")
    assert not _matches(svc["spec"]["selector"], test_pod["metadata"]["labels"])
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["http"]["port"] == 8000 and ports["autoscaler"]["port"] == 9091
    for label in ("helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance",
                  "app.kubernetes.io/version", "app.kubernetes.io/managed-by"):
        for doc in docs:
            assert label in doc["metadata"]["labels"], f"{doc['kind']} lacks {label}"


def test_helm_test_pod_calls_v1_models(render):
    docs = render()
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = " ".join(pod["spec"]["containers"][0]["command"])
    assert "http://turbine.default.svc:8000/v1/models" in script
    assert pod["spec"]["restartPolicy"] == "Never"


# ---- monitoring objects ------------------------------------------------------------------------

def test_service_monitor(render):
    docs = render(EVERYTHING)
    sm = one(docs, "ServiceMonitor")
    svc = one(docs, "Service")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert _matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
    svc_ports = {p["name"] for p in svc["spec"]["ports"]}
    assert svc_ports == {"http", "admin", "autoscaler"}
    # Scrapes go to the admin port, never to the API port.
    assert {e["port"] for e in sm["spec"]["endpoints"]} == {"admin", "autoscaler"}
    assert all(e["path"] == "/metrics" for e in sm["spec"]["endpoints"])
    # The rules and the dashboard select job="turbine".
    assert svc["metadata"]["labels"][sm["spec"]["jobLabel"]] == "turbine"
    assert not find(render(), "ServiceMonitor")


def test_prometheus_rule_is_the_monitoring_rules_file(render, promtool, tmp_path):
    docs = render(EVERYTHING)
    rule = one(docs, "PrometheusRule")
    canonical = yaml.safe_load((MONITORING / "prometheus" / "rules.yaml").read_text())
    assert rule["spec"]["groups"] == canonical["groups"]
    f = tmp_path / "rules.yaml"
    f.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    r = run([promtool, "check", "rules", f])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not find(render(), "PrometheusRule")


def test_dashboard_configmap(render):
    docs = render(EVERYTHING)
    cms = [d for d in find(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    assert len(cms) == 1
    cm = cms[0]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == "monitoring"
    canonical = (MONITORING / "grafana" / "turbine-dashboard.json").read_text()
    assert json.loads(cm["data"]["turbine-dashboard.json"]) == json.loads(canonical)
    assert not [d for d in find(render(), "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]


def test_monitoring_files_link_to_the_chart():
    """One source of truth: the chart's files (helm reads only files inside the chart, and
    warns about links there); monitoring/ holds links to them for use without the chart."""
    pairs = [(MONITORING / "grafana" / "turbine-dashboard.json", CHART / "files" / "grafana-dashboard.json"),
             (MONITORING / "prometheus" / "rules.yaml", CHART / "files" / "prometheus-rules.yaml")]
    for link, source in pairs:
        assert link.is_symlink(), f"{link.relative_to(ROOT)} must be a link to {source.relative_to(ROOT)}"
        assert link.resolve() == source.resolve()
        assert not source.is_symlink()


def test_helm_package_ships_the_monitoring_files(helm, tmp_path):
    r = run([helm, "package", CHART, "-d", tmp_path])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "symbolic link" not in r.stdout + r.stderr
    import tarfile
    (pkg,) = tmp_path.glob("turbine-*.tgz")
    with tarfile.open(pkg) as t:
        for name, source in [("turbine/files/grafana-dashboard.json", CHART / "files" / "grafana-dashboard.json"),
                             ("turbine/files/prometheus-rules.yaml", CHART / "files" / "prometheus-rules.yaml")]:
            assert t.extractfile(name).read() == source.read_bytes()


# ---- values.schema.json and template checks --------------------------------------------------------

@pytest.mark.parametrize("values,message", [
    ({"gpu": {"count": -1}}, "gpu.count"),
    ({"model": {"source": "s3"}}, "model.source"),
    ({"engine": {"config": {"api-key": "secret"}}}, "api-key"),
    ({"engine": {"config": {"max-runing": 4}}}, "max-runing"),
    ({"autoscaler": {"minReplicas": 0}}, "autoscaler.minReplicas"),
    ({"service": {"port": 70000}}, "service.port"),
    ({"replicas": 2}, "replicas"),
    ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
])
def test_schema_rejects_bad_values(render, values, message):
    r = render(values, expect_fail=True)
    assert "values don't meet the specifications of the schema" in r.stderr, r.stderr
    assert message in r.stderr, r.stderr


@pytest.mark.parametrize("values,message", [
    ({"apiKey": {"enabled": True}}, "apiKey.enabled needs apiKey.keys or apiKey.existingSecret"),
    ({"model": {"source": "initContainer"}}, "model.source=initContainer needs model.initContainer.url"),
    ({"autoscaler": {"minReplicas": 5, "maxReplicas": 2}}, "minReplicas must not exceed"),
])
def test_templates_reject_inconsistent_values(render, values, message):
    r = render(values, expect_fail=True)
    assert message in r.stderr, r.stderr


def test_other_release_name_and_namespace(render):
    docs = render(release="prod", namespace="llm")
    assert deployment(docs)["metadata"]["name"] == "prod-turbine"
    cfg = autoscaler_config(docs)
    assert (cfg["namespace"], cfg["deployment"], cfg["lease-name"]) == ("llm", "prod-turbine", "prod-turbine-autoscaler")
    assert all(d["metadata"]["namespace"] == "llm" for d in docs)


def test_notes(helm, tmp_path):
    # `helm install --dry-run` needs a cluster; render NOTES.txt through `helm template` with a
    # throwaway copy of the chart that turns NOTES into a manifest comment.
    chart = tmp_path / "turbine"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "notes-rendered.yaml").write_text(
        "# NOTES\n" + "\n".join("# " + line for line in notes.splitlines()) + "\n")
    r = run([helm, "template", "turbine", chart, "--show-only", "templates/notes-rendered.yaml",
             "--set", "apiKey.enabled=true,apiKey.keys[0]=k"])
    assert r.returncode == 0, r.stderr
    assert "rollout status deployment/turbine" in r.stdout
    assert "Authorization: Bearer" in r.stdout
    assert "turbine-autoscaler" in r.stdout


# ---- manifests/ and the Dockerfile -------------------------------------------------------------------

def test_manifests_are_up_to_date(helm, tmp_path):
    out = tmp_path / "turbine.yaml"
    r = run([ROOT / "scripts" / "render-manifests", out], env={**os.environ, "TURBINE_HELM": helm})
    assert r.returncode == 0, r.stderr
    committed = (ROOT / "manifests" / "turbine.yaml").read_text()
    assert committed == out.read_text(), "manifests/turbine.yaml is stale: run scripts/render-manifests"
    docs = [d for d in yaml.safe_load_all(committed) if d]
    assert "replicas" not in one(docs, "Deployment")["spec"]
    assert not find(docs, "Pod"), "the helm test pod does not belong in plain manifests"


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(froms) == 2, froms
    (builder, stage), (runtime, _) = froms
    assert builder.startswith("nvidia/cuda:") and "-devel-" in builder and stage
    assert runtime.startswith("nvidia/cuda:") and "-runtime-" in runtime
    assert "-DTURBINE_CUDA=ON" in text and "-DTURBINE_TESTS=OFF" in text
    for binary in ("turbine", "turbine-autoscaler"):
        assert f"build/bin/{binary}" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0")), user
    # The uid the chart runs as.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert user[-1].split(":")[0] == str(values["podSecurityContext"]["runAsUser"])
    # The -dev packages scripts/setup installs for the server and sidecar are in the builder
    # (those for tests and fuzzers are not needed there).
    setup = (ROOT / "scripts" / "setup").read_text()
    dev = {p for p in re.findall(r"\b(lib[a-z0-9+-]+-dev|nlohmann-json3-dev)\b", setup)
           if p not in ("libgtest-dev", "libclang-rt-14-dev")}
    missing = {p for p in dev if p not in text}
    assert not missing, f"Dockerfile lacks {missing}"
