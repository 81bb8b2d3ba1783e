"""monitoring/: promtool checks of the rules, and every PromQL expression of the Grafana
dashboard (and of the rules) run against a real Prometheus server that scrapes a
representative sample of the engine's and the sidecar's /metrics."""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

import fake_metrics
from k8s_util import MONITORING, ROOT, run
from k8s_util import promtool  # noqa: F401  (fixture)

DASHBOARD = MONITORING / "grafana" / "turbine-dashboard.json"
RULES = MONITORING / "prometheus" / "rules.yaml"
RULES_TEST = MONITORING / "prometheus" / "rules_test.yaml"

# What Grafana would put in for its variables; $__rate_interval is at least 4 scrape
# intervals, and the test server is scraped every second.
GRAFANA_VARS = {"__rate_interval": "10s", "__interval": "2s", "__range": "1m", "namespace": ".*"}


def dashboard():
    return json.loads(DASHBOARD.read_text())


def all_panels(d):
    for p in d["panels"]:
        yield p
        yield from p.get("panels", [])


def dashboard_exprs() -> list[tuple[str, str]]:
    return [(f"{p['title']} / {t['refId']}", t["expr"])
            for p in all_panels(dashboard()) for t in p.get("targets", [])]


def substitute(expr: str) -> str:
    def var(m):
        name = m.group(1) or m.group(2)
        assert name in GRAFANA_VARS, f"unknown dashboard variable ${name} in {expr}"
        return GRAFANA_VARS[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", var, expr)


def metric_names(expr: str) -> set[str]:
    return {m for m in re.findall(r"\b(turbine_[a-z_]+)", expr)}


def base_name(m: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", m) if m.endswith(("_bucket", "_sum", "_count")) else m


# ---- promtool ---------------------------------------------------------------------------------

def test_promtool_check_rules(promtool):
    r = run([promtool, "check", "rules", RULES])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_promtool_test_rules(promtool):
    r = run([promtool, "test", "rules", RULES_TEST.name], cwd=RULES_TEST.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_every_alert_has_a_rule_test():
    rules = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load(RULES_TEST.read_text())
    tested = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
    assert alerts == tested, f"alerts without a firing test: {alerts - tested}"
    required = {"TurbineKVCacheSaturated", "TurbineQueueGrowing", "TurbineHighTimeToFirstToken",
                "TurbineAutoscalerNoLeader", "TurbineScrapeFailing"}
    assert required <= alerts


def test_sample_exposition_is_valid(promtool):
    text = fake_metrics.engine_text("p", 3) + fake_metrics.sidecar_text("p", 3, leader=True)
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    # promtool exits 1 on lint findings too (e.g. naming advice); only errors matter here.
    assert "error" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr


# ---- the dashboard's structure --------------------------------------------------------------------

def test_dashboard_covers_the_required_panels():
    exprs = " ".join(e for _, e in dashboard_exprs())
    for needed in ("turbine_generation_tokens_total", "turbine_time_to_first_token_seconds_bucket",
                   "turbine_inter_token_latency_seconds_bucket", "turbine_requests_waiting",
                   "turbine_requests_running", "turbine_kv_cache_usage_ratio", "turbine_device_memory_bytes",
                   "turbine_preemptions_total", "turbine_prefix_cache_hits_total",
                   "turbine_prefix_cache_queries_total", "turbine_autoscaler_desired_replicas",
                   "turbine_autoscaler_current_replicas", "turbine_requests_rejected_total",
                   "turbine_prefill_tokens_waiting"):
        assert needed in exprs, f"no panel uses {needed}"
    assert exprs.count("histogram_quantile(") >= 6
    d = dashboard()
    assert d["uid"] and d["title"] and d["schemaVersion"] >= 36
    ids = [p["id"] for p in all_panels(d)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in all_panels(d):
        if p["type"] != "row":
            assert p["targets"], p["title"]
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
    names = {v["name"] for v in d["templating"]["list"]}
    assert {"datasource", "namespace"} <= names


def test_dashboard_and_rules_use_only_known_metrics():
    known = fake_metrics.ENGINE_NAMES | fake_metrics.SIDECAR_NAMES
    used = set()
    for _, e in dashboard_exprs():
        used |= {base_name(m) for m in metric_names(e)}
    for g in yaml.safe_load(RULES.read_text())["groups"]:
        for r in g["rules"]:
            used |= {base_name(m) for m in metric_names(r["expr"])}
    assert used - known == set(), f"unknown metrics: {used - known}"


def test_sample_names_match_the_engine_source():
    """The engine's metric names in the sample are those the engine registers."""
    src = ROOT / "engine" / "runtime" / "engine_metrics.cpp"
    registered = set(re.findall(r'"(turbine_[a-z_]+)"', src.read_text()))
    assert fake_metrics.ENGINE_NAMES == registered, (fake_metrics.ENGINE_NAMES ^ registered)


def test_sample_names_match_the_sidecar_source():
    srcs = list((ROOT / "sidecar").glob("*.cpp")) if (ROOT / "sidecar").is_dir() else []
    registered = set()
    for s in srcs:
        registered |= set(re.findall(r'"(turbine_autoscaler_[a-z_]+)"', s.read_text(errors="replace")))
    if not registered:
        pytest.skip("the sidecar registers no turbine_autoscaler_* metrics yet")
    assert fake_metrics.SIDECAR_NAMES == registered, (fake_metrics.SIDECAR_NAMES ^ registered)


# ---- a real Prometheus ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, **params):
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{q}", timeout=10) as r:
            return json.loads(r.read())

    def query(self, expr: str):
        try:
            return self.get("/api/v1/query", query=expr)
        except urllib.error.HTTPError as e:
            return json.loads(e.read())


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    binary = shutil.which("prometheus")
    if not binary:
        pytest.fail("prometheus is missing: scripts/setup installs the Debian package prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    shutil.copy(RULES, work / "rules.yaml")
    with fake_metrics.FakeTargets() as targets:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
            "rule_files": ["rules.yaml"],
            "scrape_configs": [{"job_name": "turbine", "static_configs": targets.static_configs()}],
        }
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        log = open(work / "prometheus.log", "w")
        proc = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                 "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT, cwd=work)
        prom = Prometheus(f"http://127.0.0.1:{port}")
        try:
            deadline = time.time() + 60
            want = len(targets.static_configs())
            while True:
                assert proc.poll() is None, (work / "prometheus.log").read_text()
                assert time.time() < deadline, "targets never scraped:\n" + (work / "prometheus.log").read_text()
                try:
                    # Every target up, and at least 4 scrapes each, so rate() has points.
                    r = prom.query('count(count_over_time(up{job="turbine"}[1m]) >= 4 and up{job="turbine"} == 1)')
                    res = r["data"]["result"] if r.get("status") == "success" else []
                    if res and int(float(res[0]["value"][1])) == want:
                        break
                except (OSError, ValueError, KeyError):
                    pass
                time.sleep(0.5)
            yield prom
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


@pytest.mark.parametrize("where,expr", dashboard_exprs(), ids=[w for w, _ in dashboard_exprs()])
def test_dashboard_expr_on_real_prometheus(prometheus, where, expr):
    q = substitute(expr)
    r = prometheus.query(q)
    assert r["status"] == "success", f"{where}: {q}\n{r.get('error')}"
    assert r["data"]["result"], f"{where}: empty result for {q}"


def test_dashboard_variables_on_real_prometheus(prometheus):
    for v in dashboard()["templating"]["list"]:
        if v["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", v["query"]["query"])
        assert m, v["query"]
        r = prometheus.query(m.group(1))
        assert r["status"] == "success" and r["data"]["result"], v["query"]
        assert all(m.group(2) in s["metric"] for s in r["data"]["result"])


def test_rules_evaluate_on_real_prometheus(prometheus):
    # Let every group evaluate a few times over the scraped data.
    deadline = time.time() + 20
    while True:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules) and \
                all(r.get("health") == "ok" for r in rules):
            break
        assert time.time() < deadline, [(r["name"], r.get("health"), r.get("lastError")) for r in rules]
        time.sleep(0.5)
    want = yaml.safe_load(RULES.read_text())
    assert len(rules) == sum(len(g["rules"]) for g in want["groups"])
    for r in rules:
        assert r["health"] == "ok", (r["name"], r.get("lastError"))
    # Recording rules produce series.
    deadline = time.time() + 15
    for g in want["groups"]:
        for rule in g["rules"]:
            if "record" not in rule:
                continue
            while True:
                res = prometheus.query(rule["record"])
                if res["status"] == "success" and res["data"]["result"]:
                    break
                assert time.time() < deadline, f"{rule['record']} produced nothing"
                time.sleep(0.5)
    # Realistic data: a leader exists, every target is up.
    firing = {a["labels"]["alertname"] for a in prometheus.get("/api/v1/alerts")["data"]["alerts"]}
    assert "TurbineAutoscalerNoLeader" not in firing and "TurbineScrapeFailing" not in firing


def test_alert_exprs_are_valid_promql(prometheus):
    for g in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in g["rules"]:
            r = prometheus.query(rule["expr"])
            assert r["status"] == "success", (rule.get("alert") or rule.get("record"), r.get("error"))
