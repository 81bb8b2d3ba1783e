"""A representative sample of turbine's /metrics (engine and autoscaler sidecar), in the
Prometheus text format, served over HTTP for a real Prometheus to scrape.

Counters and histograms grow with every scrape (as under steady load) so that rate(),
increase() and histogram_quantile() over them return numbers, not just empty vectors.
The metric families are exactly those docs/ARCHITECTURE.md ("Metrics") lists (the test cross-checks the engine's
source for the engine names).
"""
from __future__ import annotations

import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENGINE_GAUGES = {
    "turbine_requests_waiting": "Requests admitted and waiting to be scheduled.",
    "turbine_requests_running": "Requests holding KV blocks and being computed.",
    "turbine_prefill_tokens_waiting": "Tokens of live requests still to prefill.",
    "turbine_kv_cache_usage_ratio": "Fraction of KV cache blocks referenced by sequences (0..1).",
    "turbine_kv_cache_blocks": "KV cache blocks by state.",
    "turbine_device_memory_bytes": "Device memory in bytes, used or total, per device.",
    "turbine_generation_tokens_per_second": "Generated tokens per second over a short window.",
    "turbine_build_info": "Build and model information; the value is always 1.",
}
ENGINE_COUNTERS = {
    "turbine_prompt_tokens_total": "Prompt tokens of admitted requests.",
    "turbine_generation_tokens_total": "Tokens generated (sampled).",
    "turbine_requests_total": "Finished requests by finish reason.",
    "turbine_requests_rejected_total": "Requests rejected at admission by reason.",
    "turbine_preemptions_total": "Sequences preempted because KV cache blocks ran out.",
    "turbine_prefix_cache_queries_total": "Prompt tokens looked up in the prefix cache.",
    "turbine_prefix_cache_hits_total": "Prompt tokens found in the prefix cache.",
    "turbine_structured_requests_total": "Requests whose output is constrained, by kind.",
}
ENGINE_HISTOGRAMS = {
    "turbine_time_to_first_token_seconds": ("Time to first token.", 0.01, 60, 16, 0.35),
    "turbine_inter_token_latency_seconds": ("Time between tokens.", 0.001, 2, 16, 0.02),
    "turbine_request_duration_seconds": ("End-to-end request time.", 0.01, 60, 16, 4.0),
    "turbine_queue_wait_seconds": ("Time from arrival to first scheduling.", 0.001, 60, 18, 0.05),
    "turbine_grammar_compile_seconds": ("Time to compile a grammar that was not cached.", 0.0001, 10, 16, 0.002),
}
SIDECAR_GAUGES = {
    "turbine_autoscaler_desired_replicas": "Replicas the policy wants.",
    "turbine_autoscaler_current_replicas": "Replicas of the Deployment's scale.",
    "turbine_autoscaler_ready_replicas": "Ready engine endpoints.",
    "turbine_autoscaler_leader": "1 while this sidecar holds the Lease.",
    "turbine_autoscaler_input": "Policy inputs.",
    "turbine_autoscaler_rollout_in_progress": "1 while the Deployment rolls out.",
}
SIDECAR_COUNTERS = {
    "turbine_autoscaler_scrape_errors_total": "Failed engine scrapes.",
    "turbine_autoscaler_api_errors_total": "Failed Kubernetes API calls by operation.",
    "turbine_autoscaler_decisions_total": "Scale decisions by direction.",
}

ENGINE_NAMES = set(ENGINE_GAUGES) | set(ENGINE_COUNTERS) | set(ENGINE_HISTOGRAMS)
SIDECAR_NAMES = set(SIDECAR_GAUGES) | set(SIDECAR_COUNTERS)


def log_buckets(lo: float, hi: float, n: int) -> list[float]:
    r = (hi / lo) ** (1 / (n - 1))
    return [float(f"{lo * r**i:.6g}") for i in range(n)]


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "+Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def _labels(d: dict[str, str]) -> str:
    if not d:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def engine_text(pod: str, n: int) -> str:
    """The engine's exposition after n scrapes (n >= 1)."""
    out: list[str] = []

    def family(name, kind, help_, samples):
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for suffix, labels, value in samples:
            out.append(f"{name}{suffix}{_labels(labels)} {_fmt(value)}")

    waiting = 3 + (n % 4)
    used = 700 + 10 * (n % 5)
    g = {
        "turbine_requests_waiting": [("", {}, waiting)],
        "turbine_requests_running": [("", {}, 12)],
        "turbine_prefill_tokens_waiting": [("", {}, 1500 * waiting)],
        "turbine_kv_cache_usage_ratio": [("", {}, used / 1024)],
        "turbine_kv_cache_blocks": [("", {"state": "free"}, 1024 - used), ("", {"state": "used"}, used)],
        "turbine_device_memory_bytes": [("", {"device": "cuda:0", "kind": "used"}, 70e9),
                                        ("", {"device": "cuda:0", "kind": "total"}, 80e9)],
        "turbine_generation_tokens_per_second": [("", {}, 850.5)],
        "turbine_build_info": [("", {"version": "0.1.0", "backend": "cuda", "model": "llama-3-8b", "arch": "llama"}, 1)],
    }
    for name, help_ in ENGINE_GAUGES.items():
        family(name, "gauge", help_, g[name])
    c = {
        "turbine_prompt_tokens_total": [("", {}, 4000 * n)],
        "turbine_generation_tokens_total": [("", {}, 900 * n)],
        "turbine_requests_total": [("", {"finish_reason": r}, k * n)
                                   for r, k in (("stop", 5), ("length", 2), ("abort", 0), ("timeout", 0))],
        "turbine_requests_rejected_total": [("", {"reason": r}, k * n)
                                            for r, k in (("queue_full", 1), ("too_long", 0), ("invalid", 0),
                                                         ("draining", 0))],
        "turbine_preemptions_total": [("", {}, n // 2)],
        "turbine_prefix_cache_queries_total": [("", {}, 4000 * n)],
        "turbine_prefix_cache_hits_total": [("", {}, 1500 * n)],
        "turbine_structured_requests_total": [("", {"kind": k}, v * n) for k, v in
                                              (("json_object", 1), ("json_schema", 2), ("grammar", 0), ("tools", 1))],
    }
    for name, help_ in ENGINE_COUNTERS.items():
        family(name, "counter", help_, c[name])
    for name, (help_, lo, hi, nb, typical) in ENGINE_HISTOGRAMS.items():
        bounds = log_buckets(lo, hi, nb)
        per_scrape = 7  # observations per scrape, spread around `typical`
        obs = [typical * f for f in (0.3, 0.6, 0.9, 1.0, 1.2, 2.0, 5.0)]
        samples = []
        for b in bounds + [math.inf]:
            samples.append(("_bucket", {"le": _fmt(b) if not math.isinf(b) else "+Inf"},
                            n * sum(1 for o in obs if o <= b)))
        samples.append(("_sum", {}, n * sum(obs)))
        samples.append(("_count", {}, n * per_scrape))
        family(name, "histogram", help_, samples)
    return "\n".join(out) + "\n"


def sidecar_text(pod: str, n: int, leader: bool) -> str:
    out: list[str] = []

    def family(name, kind, help_, samples):
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            out.append(f"{name}{_labels(labels)} {_fmt(value)}")

    g = {
        "turbine_autoscaler_desired_replicas": [({}, 3)],
        "turbine_autoscaler_current_replicas": [({}, 2)],
        "turbine_autoscaler_ready_replicas": [({}, 2)],
        "turbine_autoscaler_leader": [({}, 1 if leader else 0)],
        "turbine_autoscaler_input": [({"name": k}, v) for k, v in (("waiting_mean", 4.5), ("kv_usage_mean", 0.7),
                                                                   ("preemptions_per_second", 0.1))],
        "turbine_autoscaler_rollout_in_progress": [({}, 0)],
    }
    for name, help_ in SIDECAR_GAUGES.items():
        family(name, "gauge", help_, g[name])
    c = {
        "turbine_autoscaler_scrape_errors_total": [({}, n // 3)],
        "turbine_autoscaler_api_errors_total": [({"op": op}, n // 4 if op == "update_scale" else 0)
                                                for op in ("get_scale", "update_scale", "lease")],
        "turbine_autoscaler_decisions_total": [({"direction": d}, k * n)
                                               for d, k in (("up", 1), ("down", 0), ("hold", 3))],
    }
    for name, help_ in SIDECAR_COUNTERS.items():
        family(name, "counter", help_, c[name])
    return "\n".join(out) + "\n"


class FakeTargets:
    """Serves /engine/<pod> and /sidecar/<pod>; the first sidecar pod is the leader."""

    def __init__(self, pods=("turbine-a", "turbine-b")):
        self.pods = list(pods)
        self.scrapes: dict[str, int] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) != 2 or parts[0] not in ("engine", "sidecar") or parts[1] not in outer.pods:
                    self.send_error(404)
                    return
                with outer._lock:
                    n = outer.scrapes[self.path] = outer.scrapes.get(self.path, 0) + 1
                kind, pod = parts
                body = (engine_text(pod, n) if kind == "engine"
                        else sidecar_text(pod, n, leader=pod == outer.pods[0])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def static_configs(self, namespace="ml"):
        """Prometheus static_configs: one target per pod and kind, with the labels the chart's
        ServiceMonitor gives (job, namespace, pod) and a distinct instance each."""
        configs = []
        for i, pod in enumerate(self.pods):
            for kind, port in (("engine", 8000), ("sidecar", 9091)):
                configs.append({
                    "targets": [f"127.0.0.1:{self.port}"],
                    "labels": {"__metrics_path__": f"/{kind}/{pod}", "instance": f"10.0.0.{i + 1}:{port}",
                               "namespace": namespace, "pod": pod},
                })
        return configs
