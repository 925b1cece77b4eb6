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
DESIGN_OUTCOMES = ("first_try", "repaired", "retried", "missed_checks", "invalid", "refused")


@cache
def _requests() -> Counter:
    return Counter("adgenesis_requests", description="HTTP requests by route template, method and status class.",
                   tag_keys=("route", "method", "status"))


@cache
def _request_seconds() -> Histogram:
    return Histogram("adgenesis_request_duration_seconds", description="Time to the response's first byte, by route.",
                     boundaries=LATENCY_BUCKETS_S, tag_keys=("route", "method"))


@cache
def _classifications() -> Counter:
    return Counter("adgenesis_classifier_decisions", description="Router decisions by label.", tag_keys=("label",))


@cache
def _confidence() -> Histogram:
    return Histogram("adgenesis_classifier_confidence", description="Confidence of the chosen label.",
                     boundaries=CONFIDENCE_BUCKETS, tag_keys=("label",))


@cache
def _designs() -> Counter:
    return Counter("adgenesis_designs", description=f"Layouts by outcome ({', '.join(DESIGN_OUTCOMES)}), mode and model.",
                   tag_keys=("outcome", "mode", "model"))


@cache
def _design_tokens() -> Histogram:
    return Histogram("adgenesis_design_tokens", description="Completion tokens per returned layout.",
                     boundaries=TOKEN_BUCKETS, tag_keys=("mode",))


@cache
def _images() -> Counter:
    return Counter("adgenesis_images", description="Images drawn by size, steps and LoRA adapter.",
                   tag_keys=("size", "steps", "lora"))


@cache
def _image_steps() -> Counter:
    return Counter("adgenesis_image_steps", description="Denoising steps drawn.", tag_keys=("size",))


@cache
def _captions() -> Counter:
    return Counter("adgenesis_captions", description="Images captioned.", tag_keys=("model_version",))


@cache
def _jobs() -> Gauge:
    return Gauge("adgenesis_jobs", description="Training and batch jobs on the cluster by kind and status.",
                 tag_keys=("kind", "status"))


@cache
def _job_running_seconds() -> Gauge:
    return Gauge("adgenesis_job_longest_running_seconds", description="How long the oldest running job of a kind has run.",
                 tag_keys=("kind",))


@cache
def _model_info() -> Gauge:
    return Gauge("adgenesis_model_info", description="1 for the model version a deployment serves now, 0 for the ones it served before.",
                 tag_keys=("model", "version"))


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    _requests().inc(tags={"route": route, "method": method, "status": status_class(status)})
    _request_seconds().observe(seconds, tags={"route": route, "method": method})


def record_classification(label: str, confidence: float) -> None:
    _classifications().inc(tags={"label": label})
    _confidence().observe(confidence, tags={"label": label})


def record_design(outcome: str, mode: str, model: str, tokens: int | None = None) -> None:
    assert outcome in DESIGN_OUTCOMES, outcome
    _designs().inc(tags={"outcome": outcome, "mode": mode, "model": model})
    if tokens is not None:
        _design_tokens().observe(tokens, tags={"mode": mode})


def record_image(width: int, height: int, steps: int, lora: str | None) -> None:
    size = f"{width}x{height}"  # sizes come from the profile's presets: a bounded set
    _images().inc(tags={"size": size, "steps": str(steps), "lora": lora or "none"})
    _image_steps().inc(steps, tags={"size": size})


def record_caption(model_version: str) -> None:
    _captions().inc(tags={"model_version": model_version})


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
        _hold(_jobs(), n, {"kind": kind, "status": status})
    for kind, seconds in longest_running_s.items():
        _hold(_job_running_seconds(), seconds, {"kind": kind})


class ServedModel:
    """`adgenesis_model_info{model, version}`: 1 for what is served now; a swap sets the old version to 0."""

    def __init__(self, model: str):
        self.model = model
        self.version: str | None = None

    def set(self, version: str) -> None:
        if version == self.version:
            return
        if self.version is not None:
            _hold(_model_info(), 0, {"model": self.model, "version": self.version})
        _hold(_model_info(), 1, {"model": self.model, "version": version})
        self.version = version


_ALL = (_requests, _request_seconds, _classifications, _confidence, _designs, _design_tokens, _images, _image_steps,
        _captions, _jobs, _job_running_seconds, _model_info)


def exported_names() -> list[str]:
    """Each product metric as Prometheus shows it after configs/monitoring/prometheus.yml (counters end in
    `_total`; for a histogram, its `_count`)."""
    suffix = {Counter: "_total", Histogram: "_count", Gauge: ""}
    return [make().info["name"] + suffix[type(make())] for make in _ALL]
