"""The upstream fallback on the shared graph, against a real second server: vLLM's OpenAI server on the same model
(tools/upstream_server.py), where the tests' profile points `upstream:` (tests/conftest.py). The local LLM's replica
killed, designs and messages keep coming from the upstream with `served_by` set and each fallback counted; the
upstream stopped too, its failures trip the breaker and callers get a fast 503 with Retry-After; the local replica
back, answers are local again."""

from __future__ import annotations

import time
from urllib.parse import urlparse

from ray import serve

from tests.conftest import UPSTREAM_KEY
from tools.faults import kill_replica, replicas
from tools.monitor import agent_metric
from tools.processes import stop
from tools.upstream_server import upstream_server

LLM = "LLMServer"
LOCAL_BACK_BOUND_S = 420  # the LLM replica's restart (vLLM loads again) on a host 3x slower than ours
BODY = {"prompt": "Instagram post for Loomline's linen shirts, 20% off this weekend", "platform": "instagram",
        "format": "square"}


def llm_running() -> int:
    deployments = serve.status().applications["adgenesis"].deployments
    return next(d for name, d in deployments.items() if name.startswith(LLM)).replica_states.get("RUNNING", 0)


def kill_the_llm(dashboard: str) -> None:
    """SIGKILL the LLM's replica and wait until Serve no longer counts it running (then no request waits for it)."""
    kill_replica(replicas(LLM, dashboard)[0], dashboard)
    deadline = time.monotonic() + 60
    while llm_running():
        assert time.monotonic() < deadline, "Serve still counts the killed LLM replica as running"
        time.sleep(0.5)
    time.sleep(1.5)  # past what the replicas' look at Serve's status keeps (UpstreamSettings.replica_check_s)


def test_the_upstream_answers_while_the_local_llm_is_lost_and_a_failing_upstream_trips_the_breaker(
        server, profile, client):
    settings = profile.upstream["design_spec"]
    first = client.post("/v1/designs", json={**BODY, "seed": 1})
    assert first.status_code == 200 and first.json()["served_by"] == "local", first.text

    with upstream_server(profile.llm, urlparse(settings.base_url).port, settings.model, server.root / "upstream.log",
                         UPSTREAM_KEY) as upstream:
        kill_the_llm(server.head.dashboard)
        killed = time.monotonic()
        for seed in (1, 2):
            r = client.post("/v1/designs", json={**BODY, "seed": seed})
            assert r.status_code == 200, r.text
            answer = r.json()
            assert (answer["served_by"], answer["model_version"]) == ("upstream", settings.model)
            assert answer["designs"][0]["elements"] and answer["quality"][0]["checks"]  # laid out and checked here
        chat = client.post("/v1/generate", json={"prompt": "What makes a good tagline?", "route": "conversation"})
        assert chat.status_code == 200 and chat.json()["served_by"] == "upstream" and chat.json()["message"], chat.text
        from_upstream_s = time.monotonic() - killed
        stop(upstream)

        # Local still down, upstream gone: its failures (each a 503) trip the breaker, which then answers at once.
        refused = None
        for _ in range(12):  # 2 failures open a replica's breaker; the DesignSpec may run 2 replicas
            start = time.monotonic()
            r = client.post("/v1/designs", json={**BODY, "seed": 3})
            if r.status_code == 200:  # the restarted replica beat us to it: lose it again
                assert r.json()["served_by"] == "local", r.text
                kill_the_llm(server.head.dashboard)
                continue
            assert r.status_code == 503 and "upstream model failed" in r.json()["detail"], r.text
            if "not called" in r.json()["detail"]:
                refused = (r, time.monotonic() - start)
                break
        assert refused is not None, "the breaker never opened"
        answer, took = refused
        retry_after = int(answer.headers["retry-after"])
        assert retry_after > 1 and took < 2, (answer.headers, took)

    deadline = time.monotonic() + LOCAL_BACK_BOUND_S
    while True:
        r = client.post("/v1/designs", json={**BODY, "seed": 4})
        if r.status_code == 200:
            break
        assert r.status_code == 503 and r.headers["retry-after"], r.text
        assert time.monotonic() < deadline, f"no local design {LOCAL_BACK_BOUND_S} s after the kill"
        time.sleep(2)
    assert r.json()["served_by"] == "local" and r.json()["model_version"] != settings.model
    local_back_s = time.monotonic() - killed

    def counted(outcome: str) -> float:
        return agent_metric(server.head.session_dir, "ray_adgenesis_fallbacks_total", f'outcome="{outcome}"')

    deadline = time.monotonic() + 45  # Ray's metrics agents export every 10 s
    while counted("served") < 3 or counted("refused") < 1:
        assert time.monotonic() < deadline, "fallbacks not counted in adgenesis_fallbacks_total"
        time.sleep(2)
    print(f"\nfallback: 2 designs and a message from the upstream {from_upstream_s:.1f} s after the kill, breaker open "
          f"(503 in {took:.2f} s, Retry-After {retry_after}), local again {local_back_s:.0f} s after")
