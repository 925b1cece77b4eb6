"""The upstream fallback without Ray: the circuit breaker, when a route goes upstream and what it records, the
OpenAI client's calls (to an OpenAI-compatible stand-in on an httpx transport), and a design made upstream going
through the same layout engine and checks. The real path, a second vLLM server: tests/integration/test_fallback.py."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from deployments.http_errors import status_of
from adgenesis.engines.design import NoLayout
from adgenesis.engines.upstream import CircuitBreaker, Fallback, LocalUnavailable, Upstream
from adgenesis.errors import NotFound, RequestError
from adgenesis.settings import UpstreamSettings, load_profile
from tests.test_design_spec import GOOD, generate, spec

SETTINGS = UpstreamSettings(base_url="http://upstream.test/v1", model="their-model", failures_to_open=2, open_s=30)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_failures_in_a_row_then_lets_one_call_through():
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=3, open_s=30, clock=clock)
    for ok in (False, False, True, False, False):  # a success in between starts the count again
        breaker.record(ok)
    assert breaker.retry_after_s() is None
    breaker.record(False)
    assert breaker.retry_after_s() == 30
    clock.now += 29.5
    assert breaker.retry_after_s() == pytest.approx(0.5)
    clock.now += 1
    assert breaker.retry_after_s() is None  # half-open: one call may go
    breaker.record(False)
    assert breaker.retry_after_s() == 30  # and its failure opens it again at once
    clock.now += 31
    breaker.record(True)
    breaker.record(False)
    assert breaker.retry_after_s() is None


def openai_stub(answers: list[str] | None = None, status: int = 200, seen: list | None = None) -> httpx.MockTransport:
    """An OpenAI-compatible /chat/completions: `answers` as the choices' contents, or `status` with an error body."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "upstream down", "type": "server_error"}})
        choices = [{"index": i, "message": {"role": "assistant", "content": answers.pop(0)}, "finish_reason": "stop"}
                   for i in range(body.get("n", 1))]
        return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                         "choices": choices,
                                         "usage": {"prompt_tokens": 40, "completion_tokens": 30, "total_tokens": 70}})

    return httpx.MockTransport(handle)


def upstream(transport: httpx.MockTransport) -> Upstream:
    up = Upstream(SETTINGS)
    up.client = openai.AsyncOpenAI(base_url=SETTINGS.base_url, api_key="k", max_retries=0,
                                    http_client=httpx.AsyncClient(transport=transport))
    return up


def fallback(up: Upstream, running: bool = True) -> tuple[Fallback, list]:
    recorded = []

    async def local_running() -> bool:
        return running

    return Fallback(up, local_running, lambda reason, outcome: recorded.append((reason, outcome))), recorded


async def answer(up: Upstream) -> str:
    return (await up.chat([{"role": "user", "content": "hi"}], max_tokens=8)).choices[0].message.content


def run(fb: Fallback, local_error: Exception | None = None):
    async def local() -> str:
        if local_error is not None:
            raise local_error
        return "ours"

    return asyncio.run(fb.run(local, answer))


@pytest.mark.parametrize("local_error, reason", [
    (LocalUnavailable("overloaded", "full"), "overloaded"),
    (LocalUnavailable("replica_lost", "lost"), "replica_lost"),
    (NoLayout("no valid layout", invalid=2), "missed_checks"),
])
def test_a_local_failure_goes_upstream_and_is_counted_by_reason(local_error, reason):
    seen = []
    fb, recorded = fallback(upstream(openai_stub(["theirs"], seen=seen)))
    assert run(fb, local_error) == ("theirs", "upstream")
    assert recorded == [(reason, "served")] and seen[0]["model"] == "their-model"


def test_the_local_model_answers_when_it_can_and_no_replica_running_is_not_waited_for():
    assert run(Fallback()) == ("ours", "local")  # no upstream in the profile: the local model alone
    fb, recorded = fallback(upstream(openai_stub(["theirs"])))
    assert run(fb) == ("ours", "local") and recorded == []
    fb, recorded = fallback(upstream(openai_stub(["theirs"])), running=False)
    assert run(fb) == ("theirs", "upstream") and recorded == [("no_replica", "served")]


def test_other_local_errors_are_the_callers_and_not_sent_upstream():
    fb, recorded = fallback(upstream(openai_stub(["theirs"])))
    with pytest.raises(RequestError) as exc:
        run(fb, NotFound("no such adapter"))
    assert status_of(exc.value) == 404 and recorded == []


def test_a_failing_upstream_is_a_503_then_trips_the_breaker_and_is_not_called():
    seen = []
    fb, recorded = fallback(upstream(openai_stub(status=500, seen=seen)))
    lost = LocalUnavailable("replica_lost", "lost")
    for _ in range(2):
        with pytest.raises(RequestError) as exc:
            run(fb, lost)
        assert status_of(exc.value) == 503 and "upstream model failed: InternalServerError" in exc.value.message
    assert exc.value.headers["Retry-After"] == "30"  # the second failure opened the breaker
    with pytest.raises(RequestError) as exc:
        run(fb, lost)
    assert status_of(exc.value) == 503 and exc.value.headers["Retry-After"] == "30"
    assert "not called for 30 s" in exc.value.message
    assert len(seen) == 2 and recorded == [("replica_lost", "failed")] * 2 + [("replica_lost", "refused")]


def test_layouts_that_missed_the_checks_stay_a_422_when_the_upstream_fails_too():
    fb, recorded = fallback(upstream(openai_stub(status=503)))
    with pytest.raises(RequestError) as exc:
        run(fb, NoLayout("no valid layout after 2 tries", invalid=2))
    assert (status_of(exc.value), exc.value.message) == (422, "no valid layout after 2 tries")
    assert recorded == [("missed_checks", "failed")]


def test_an_unreachable_upstream_is_a_503_with_retry_after():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RequestError) as exc:
        asyncio.run(answer(upstream(httpx.MockTransport(refuse))))
    assert status_of(exc.value) == 503 and exc.value.headers["Retry-After"] == "1"
    assert "APIConnectionError" in exc.value.message


def test_a_design_made_upstream_goes_through_the_layout_engine_and_checks():
    from ray.exceptions import RayActorError

    seen = []
    s, _ = spec([], error=RayActorError())
    s._fallback, recorded = fallback(upstream(openai_stub([json.dumps(GOOD)], seen=seen)))
    out = generate(s)
    assert (out.served_by, out.model_version, out.model) == ("upstream", "their-model", "design-llm")
    assert out.quality[0].passed and out.designs[0].elements[1].text == GOOD["headline"]
    assert seen[0]["response_format"]["json_schema"]["name"] == "ad_copy" and seen[0]["seed"] == 1
    assert out.usage == {"prompt_tokens": 40, "completion_tokens": 30} and recorded == [("replica_lost", "served")]


def test_the_fallbacks_errors_cross_replicas_intact():
    import pickle

    from adgenesis.engines.upstream import UpstreamRefused

    for error in (LocalUnavailable("overloaded", "full"), UpstreamRefused(2, 29.2)):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and status_of(copy) == 503 and "Retry-After" in copy.headers
        assert (copy.message, copy.headers) == (error.message, error.headers)


def test_the_upstream_servers_key_goes_in_its_environment_not_its_command_line():
    # A key on argv is world-readable (ps), and one starting "-" (1 in 64 of token_urlsafe's) read as a flag by argparse.
    from tools.upstream_server import command

    args, env = command(load_profile("local").llm, 8123, "upstream-design", "-starts-like-a-flag")
    assert env["VLLM_API_KEY"] == "-starts-like-a-flag"
    assert not [a for a in args if "flag" in a or a == "--api-key"], args
