"""A worker node lost under load (issue 11): the shared cluster's worker node (tests/conftest.py) runs an ingress replica and
a Classifier replica; its raylet is SIGKILLed while four clients call /v1/classify. Ray marks the node dead,
Serve starts the lost replicas again on the head, and the app goes on serving from the head.

Measured and printed (-s): how long until the first answer after the kill, until Serve had replaced every lost
replica, and the requests that failed in between (a request in flight on the dead node has no replica left to
finish it; one that the ingress sends to the dead Classifier replica is retried once on another). Runs last
(`kills_node`): the cluster has one node afterwards.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from adgenesis.lifecycle.serve_config import ServeConfigClient
from tests.e2e.load import LoadLoop

pytestmark = [pytest.mark.integration, pytest.mark.kills_node]

APP = "adgenesis"
TEXT = {"text": "Make an Instagram story ad for our bakery's new croissant"}
REPLACED_BOUND_S = 240  # the node's death is noticed in ~15-30 s (GCS health checks), then replicas start


def deployments(serve: ServeConfigClient) -> tuple[str, dict[str, dict]]:
    """(the head's node id, {deployment: Serve's details: status, replicas with their state and node_id})."""
    details = serve.details()
    return details["controller_info"]["node_id"], details["applications"][APP]["deployments"]


def test_the_graph_serves_from_the_head_after_its_worker_node_dies(server):
    serve = ServeConfigClient(server.head.dashboard)
    head, before = deployments(serve)
    on_worker = {name: sum(r["node_id"] != head for r in d["replicas"]) for name, d in before.items()}
    on_worker = {name: n for name, n in on_worker.items() if n}
    assert on_worker, f"Serve put no replica on the worker node: {before}"
    wanted = {name: len(d["replicas"]) for name, d in before.items()}

    def replaced() -> bool:
        """Every deployment has its replicas back, all RUNNING, all on the head, and reports HEALTHY."""
        return all(d["status"] == "HEALTHY" and len(d["replicas"]) == wanted[name]
                   and all(r["state"] == "RUNNING" and r["node_id"] == head for r in d["replicas"])
                   for name, d in deployments(serve)[1].items())

    with LoadLoop(server.url, "/v1/classify", TEXT, threads=4, max_requests=100_000, max_seconds=REPLACED_BOUND_S + 120) as load:
        load.wait(lambda rs: sum(r.status == 200 for r in rs) >= 20, "20 answers before the kill", 120)
        raylet = server.worker.raylet()
        killed = time.time()
        raylet.kill()
        raylet.wait(timeout=10)
        while not replaced():
            assert time.time() - killed < REPLACED_BOUND_S, (
                f"Serve had not replaced the worker node's replicas after {REPLACED_BOUND_S} s: {deployments(serve)[1]}; "
                f"{load.summary()}")
            time.sleep(1)
        replaced_at = time.time()
        load.wait(lambda rs: sum(r.started > replaced_at for r in rs) >= 20, "20 answers after the replacement", 120)

    results = load.results
    after = [r for r in results if r.started > replaced_at]
    assert all(r.status == 200 for r in after), f"failed after the replacement: {[r for r in after if r.status != 200][:3]}"
    failed = [r for r in results if r.status != 200]
    first_answer = min(r.ended for r in results if r.status == 200 and r.started > killed)
    report = {
        "on_worker": on_worker,
        "requests": len(results),
        "failed": len(failed),
        "failed_status": dict(Counter(r.status for r in failed)),
        "failed_errors": sorted({(r.error or "")[:160] for r in failed}),
        "first_answer_after_kill_s": round(first_answer - killed, 1),
        "replaced_s": round(replaced_at - killed, 1),
    }
    print(f"\n[e2e] worker node lost under load: {report}")
    # Loss is bounded by what was in flight on the dead node when it died, never a stream of errors.
    assert len(failed) <= 8, f"{report}; e.g. {failed[:3]}"
