"""Observability of the shared local graph: a real Prometheus (Debian's binary, configured from
configs/monitoring/prometheus.yml) scrapes the cluster's metrics agents; after a scripted mix of traffic
every product metric has a non-zero value and every PromQL expression of the Grafana dashboard returns a
series. Request ids lead from a response (header or error body) to the replicas' log lines.
"""

from __future__ import annotations

import io
import json
import time
import uuid

import httpx
import pytest
from PIL import Image

from adgenesis import metrics
from tools.local_cluster import free_port
from tools.monitor import GRAFANA_DASHBOARD, SERVICE_DISCOVERY_FILE, prometheus

SCRAPE_INTERVAL_S = 2
WAIT_S = 120  # Ray exports every 10 s; then a scrape


@pytest.fixture(scope="module")
def prom(server, tmp_path_factory):
    with prometheus(server.head.session_dir / SERVICE_DISCOVERY_FILE, tmp_path_factory.mktemp("prometheus"),
                    port=free_port(), scrape_interval_s=SCRAPE_INTERVAL_S) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            yield c


def query(prom: httpx.Client, expr: str) -> list[dict]:
    body = prom.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def traffic(client: httpx.Client) -> None:
    """One of everything the product counts, plus a bad request."""
    design = client.post("/v1/designs", json={"prompt": "Winter sale on wool scarves, 30% off",
                                              "platform": "instagram", "format": "square", "seed": 3})
    assert design.status_code == 200, design.text
    for text in ("Make me a banner for our spring shoe sale", "A photo of a red bicycle at sunset", "hello there"):
        assert client.post("/v1/classify", json={"text": text}).status_code == 200
    assert client.post("/v1/images", json={"prompt": "a red bicycle", "size": "square", "seed": 1}).status_code == 200
    assert client.post("/v1/captions", files={"file": ("p.png", png(), "image/png")}).status_code == 200
    assert client.post("/v1/classify", json={"text": ""}).status_code == 400


def test_product_metrics_and_every_dashboard_query_in_prometheus(prom, client, api_key):
    traffic(client)
    auth = {"Authorization": f"Bearer {api_key}"}
    # Its own registered model: the job can finish before the cancel below, and must not take the e2e tests' v1.
    job = client.post("/v1/training/jobs", headers=auth, json={
        "kind": "classifier", "config": "classifier_smoke",
        "overrides": {"tracking.registered_model": "router-classifier-monitoring"}})
    assert job.status_code == 201, job.text
    try:
        missing = metrics.exported_names()
        deadline = time.monotonic() + WAIT_S
        while missing and time.monotonic() < deadline:  # the job's gauges need it RUNNING for a census round
            missing = [name for name in missing if not any(float(r["value"][1]) > 0 for r in query(prom, name))]
            time.sleep(SCRAPE_INTERVAL_S)
        assert not missing, f"no non-zero series after {WAIT_S} s for {missing}"
    finally:
        client.post(f"/v1/training/jobs/{job.json()['id']}/cancel", headers=auth)

    designs = query(prom, 'sum by (outcome, mode) (adgenesis_designs_total{deployment="DesignSpec"})')
    assert {(r["metric"]["outcome"], r["metric"]["mode"]) for r in designs} & {("first_try", "brief"), ("retried", "brief"),
                                                                               ("repaired", "brief")}
    routes = {r["metric"]["route"]: r["metric"]["status"] for r in query(prom, 'adgenesis_requests_total{route="/v1/classify", status="4xx"}')}
    assert routes == {"/v1/classify": "4xx"}  # the route template, the status class

    traffic(client)  # vLLM's gauges are only fresh while it works: some work right before the dashboard's queries
    time.sleep(12)  # a Ray export (10 s) and a scrape
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 15
    empty = [e for e in exprs if not query(prom, e)]
    assert not empty, f"dashboard queries with no series: {empty}"


def logged(server, deployment: str, needle: str, timeout_s: float = 15) -> bool:
    """`needle` in a replica log of `deployment` on any node (the worker node's session is inside the head's
    temp dir)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for log in server.head.temp_dir.glob(f"**/logs/serve/replica_adgenesis_{deployment}_*.log"):
            if needle in log.read_text(errors="replace"):
                return True
        time.sleep(0.5)
    return False


def test_request_id_from_header_to_replica_logs_and_error_bodies(client, server):
    rid = f"test-{uuid.uuid4().hex[:12]}"
    ok = client.post("/v1/designs", headers={"x-request-id": rid},
                     json={"prompt": "Fresh coffee beans for home baristas", "platform": "meta", "format": "portrait"})
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-request-id"] == rid
    assert logged(server, "AdGenesisIngress", rid) and logged(server, "DesignSpec", rid)

    # Without one the caller gets a fresh id, in the header and in every error body.
    for bad in (client.post("/v1/designs", json={"prompt": "x", "platform": "instagram", "format": "nope"}),
                client.post("/v1/classify", json={"text": ""}),
                client.get("/v1/no-such-route")):
        assert 400 <= bad.status_code < 500
        rid = bad.headers["x-request-id"]
        assert rid and bad.json()["request_id"] == rid, bad.text
    assert logged(server, "AdGenesisIngress", rid)
