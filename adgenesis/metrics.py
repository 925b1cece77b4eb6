"""The product's Prometheus metrics: the one place that names them, their labels and their buckets.

Recorded with `ray.serve.metrics`, so each series also carries Serve's `deployment`, `replica` and
`application` tags and is exported through Ray's metrics agent like Ray's own (the agent prefixes `ray_`;
configs/monitoring/prometheus.yml strips it again, so PromQL reads `adgenesis_designs_total`).
Labels are bounded sets (routes, labels, outcomes, presets, model ids): never prompts or request ids.

Metrics are created on first use, inside the replica, because Serve reads its tags from the replica
context at creation. Outside Ray (unit tests) recording is a no-op.
"""

from __future__ import annotations

import threading
import time
from functools import cache

from ray.serve.metrics import Counter, Gauge, Histogram

LATENCY_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
CONFIDENCE_BUCKETS = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
TOKEN_BUCKETS = [16, 32, 64, 96, 128, 256, 512, 1024]

# Ray's metrics agent drops a gauge value that its process has not re-reported for two report intervals
# (2 x 10 s by default), and a process only re-reports values it sets again: held gauges are set again this often.
GAUGE_REFRESH_S = 5.0

# What happened to each layout a design request asked for (`adgenesis_designs_total{outcome}`).
# `composed`: made from the brief's facts alone, where the model's layouts missed a check or did not fit.
DESIGN_OUTCOMES = ("first_try", "repaired", "retried", "missed_checks", "composed", "invalid", "refused")
# Why a request went to its route's upstream model (`adgenesis_fallbacks_total{reason}`): the local LLM's queue was
# full, its replica died under the request, none was running when it came, or its layouts missed a check after the
# retry; and what the upstream did (`outcome`): answered, failed (counts toward its breaker), not called (breaker open).
FALLBACK_REASONS = ("overloaded", "replica_lost", "no_replica", "missed_checks")
FALLBACK_OUTCOMES = ("served", "failed", "refused")


# Every product metric: (type, name as Ray exports it before the `ray_` prefix, description, tag keys, buckets).
_DEFINED: dict[str, tuple[type, str, str, tuple[str, ...], list[float] | None]] = {
    "requests": (Counter, "adgenesis_requests", "HTTP requests by route template, method and status class.",
                 ("route", "method", "status"), None),
    "request_seconds": (Histogram, "adgenesis_request_duration_seconds", "Time to the response's first byte, by route.",
                        ("route", "method"), LATENCY_BUCKETS_S),
    "classifications": (Counter, "adgenesis_classifier_decisions", "Router decisions by label.", ("label",), None),
    "confidence": (Histogram, "adgenesis_classifier_confidence", "Confidence of the chosen label.", ("label",),
                   CONFIDENCE_BUCKETS),
    "designs": (Counter, "adgenesis_designs", f"Layouts by outcome ({', '.join(DESIGN_OUTCOMES)}), mode and model.",
                ("outcome", "mode", "model"), None),
    "design_tokens": (Histogram, "adgenesis_design_tokens", "Completion tokens per returned layout.", ("mode",),
                      TOKEN_BUCKETS),
    "images": (Counter, "adgenesis_images", "Images drawn by size, steps and LoRA adapter.",
               ("size", "steps", "lora"), None),
    "image_steps": (Counter, "adgenesis_image_steps", "Denoising steps drawn.", ("size",), None),
    "captions": (Counter, "adgenesis_captions", "Images captioned.", ("model_version",), None),
    "jobs": (Gauge, "adgenesis_jobs", "Training and batch jobs on the cluster by kind and status.",
             ("kind", "status"), None),
    "job_running_seconds": (Gauge, "adgenesis_job_longest_running_seconds",
                            "How long the oldest running job of a kind has run.", ("kind",), None),
    "fallbacks": (Counter, "adgenesis_fallbacks",
                  "Requests sent to a route's upstream model, by why the local model could not answer and what the "
                  "upstream did (served, failed, refused: breaker open).", ("route", "reason", "outcome"), None),
    "canary_decisions": (Counter, "adgenesis_canary_decisions",
                         "Decisions of a canary promotion's gate (advance, rollback) by registered model.",
                         ("model", "decision"), None),
    "model_info": (Gauge, "adgenesis_model_info",
                   "1 for the model version a deployment serves now, 0 for the ones it served before.",
                   ("model", "version"), None),
}


@cache
def _metric(key: str) -> Counter | Gauge | Histogram:
    kind, name, description, tag_keys, buckets = _DEFINED[key]
    extra = {"boundaries": buckets} if buckets is not None else {}
    return kind(name, description=description, tag_keys=tag_keys, **extra)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    _metric("requests").inc(tags={"route": route, "method": method, "status": status_class(status)})
    _metric("request_seconds").observe(seconds, tags={"route": route, "method": method})


def record_classification(label: str, confidence: float) -> None:
    _metric("classifications").inc(tags={"label": label})
    _metric("confidence").observe(confidence, tags={"label": label})


def record_design(outcome: str, mode: str, model: str, tokens: int | None = None) -> None:
    assert outcome in DESIGN_OUTCOMES, outcome
    _metric("designs").inc(tags={"outcome": outcome, "mode": mode, "model": model})
    if tokens is not None:
        _metric("design_tokens").observe(tokens, tags={"mode": mode})


def record_canary_decision(model: str, decision: str) -> None:
    _metric("canary_decisions").inc(tags={"model": model, "decision": decision})


def record_fallback(route: str, reason: str, outcome: str) -> None:
    assert reason in FALLBACK_REASONS and outcome in FALLBACK_OUTCOMES, (reason, outcome)
    _metric("fallbacks").inc(tags={"route": route, "reason": reason, "outcome": outcome})


def record_image(width: int, height: int, steps: int, lora: str | None) -> None:
    size = f"{width}x{height}"  # sizes come from the profile's presets: a bounded set
    _metric("images").inc(tags={"size": size, "steps": str(steps), "lora": lora or "none"})
    _metric("image_steps").inc(steps, tags={"size": size})


def record_caption(model_version: str) -> None:
    _metric("captions").inc(tags={"model_version": model_version})


_held: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Gauge, float, dict[str, str]]] = {}
_held_lock = threading.Lock()


def _hold(gauge: Gauge, value: float, tags: dict[str, str]) -> None:
    """Set a gauge and keep re-setting it (one daemon thread per process) until it is set to something else."""
    with _held_lock:
        first = not _held
        _held[gauge.info["name"], tuple(sorted(tags.items()))] = (gauge, value, tags)
    gauge.set(value, tags=tags)
    if first:
        threading.Thread(target=_refresh_held, daemon=True, name="adgenesis-metrics").start()


def _refresh_held() -> None:
    while True:
        time.sleep(GAUGE_REFRESH_S)
        with _held_lock:
            held = list(_held.values())
        for gauge, value, tags in held:
            gauge.set(value, tags=tags)


def set_jobs(counts: dict[tuple[str, str], int], longest_running_s: dict[str, float]) -> None:
    """Job counts by (kind, status), including zeros for statuses that emptied, so a gauge never sticks."""
    for (kind, status), n in counts.items():
        _hold(_metric("jobs"), n, {"kind": kind, "status": status})
    for kind, seconds in longest_running_s.items():
        _hold(_metric("job_running_seconds"), seconds, {"kind": kind})


class ServedModel:
    """`adgenesis_model_info{model, version}`: 1 for what is served now; a swap sets the old version to 0."""

    def __init__(self, model: str):
        self.model = model
        self.version: str | None = None

    def set(self, version: str) -> None:
        if version == self.version:
            return
        if self.version is not None:
            _hold(_metric("model_info"), 0, {"model": self.model, "version": self.version})
        _hold(_metric("model_info"), 1, {"model": self.model, "version": version})
        self.version = version


ONLY_IN_A_CANARY = ("canary_decisions",)


def exported_names(canary: bool = False) -> list[str]:
    """Each product metric as Prometheus shows it after configs/monitoring/prometheus.yml (counters end in
    `_total`; for a histogram, its `_count`); those only a canary promotion makes with `canary`."""
    suffix = {Counter: "_total", Histogram: "_count", Gauge: ""}
    return [name + suffix[kind] for key, (kind, name, *_) in _DEFINED.items() if canary or key not in ONLY_IN_A_CANARY]
