"""The product metrics' bookkeeping without Ray: what the ingress records per request, request ids in error
bodies, the job census, served-version gauges. Prometheus itself: tests/integration/test_monitoring.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException

from adgenesis import metrics
from adgenesis.lifecycle.jobs import census
from deployments import http_errors, telemetry


@pytest.fixture()
def recorded(monkeypatch):
    seen: list[tuple] = []
    monkeypatch.setattr(metrics, "record_request", lambda route, method, status, seconds: seen.append((route, method, status)))
    return seen


def test_requests_are_counted_by_route_template_and_errors_carry_the_request_id(recorded):
    app = FastAPI()
    app.add_exception_handler(StarletteHTTPException, http_errors.http_error)
    app.add_middleware(telemetry.RequestMetrics)

    @app.get("/v1/training/jobs/{job_id}")
    def job(job_id: str):
        if job_id == "missing":
            raise HTTPException(404, f"no training job {job_id!r}")
        return {"id": job_id}

    client = TestClient(app)
    assert client.get("/v1/training/jobs/abc").status_code == 200
    missing = client.get("/v1/training/jobs/missing", headers={"x-request-id": "req-7"})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no training job 'missing'", "request_id": "req-7"}
    assert client.get("/nowhere").json()["detail"] == "Not Found"
    assert recorded == [("/v1/training/jobs/{job_id}", "GET", 200), ("/v1/training/jobs/{job_id}", "GET", 404),
                        ("unmatched", "GET", 404)]


def job(kind: str, status: str, start_s: float | None = None, mark: str | None = "training"):
    meta = {"kind": kind} | ({"adgenesis": mark} if mark else {})
    return SimpleNamespace(metadata=meta, status=SimpleNamespace(value=status),
                           start_time=start_s * 1000 if start_s is not None else None)


def test_job_census_counts_every_kind_and_status_and_the_oldest_running_job():
    infos = [job("classifier", "RUNNING", 1000), job("classifier", "RUNNING", 1090), job("classifier", "FAILED"),
             job("llm_sft", "SUCCEEDED"), job("classifier", "RUNNING", 0, mark=None)]  # not submitted by this API
    counts, longest = census(infos, ("classifier", "llm_sft"), now=1100)
    assert counts[("classifier", "RUNNING")] == 2 and counts[("classifier", "FAILED")] == 1
    assert counts[("llm_sft", "SUCCEEDED")] == 1 and counts[("llm_sft", "RUNNING")] == 0
    assert len(counts) == 2 * 5  # zeros too: a status that empties drops to 0 instead of sticking
    assert longest == {"classifier": 100.0, "llm_sft": 0.0}


def test_a_served_model_swap_sets_the_old_version_to_zero(monkeypatch):
    held: dict[tuple, float] = {}
    monkeypatch.setattr(metrics, "_hold", lambda gauge, value, tags: held.__setitem__(tuple(tags.values()), value))
    served = metrics.ServedModel("router-classifier")
    served.set("aaa")
    served.set("aaa")
    served.set("bbb")
    assert held == {("router-classifier", "aaa"): 0, ("router-classifier", "bbb"): 1}


def test_exported_names_follow_prometheus_conventions():
    names = metrics.exported_names()
    assert all(n.startswith("adgenesis_") for n in names) and len(names) == len(set(names))
    assert "adgenesis_designs_total" in names and "adgenesis_request_duration_seconds_count" in names
