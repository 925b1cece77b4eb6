"""Falling back to an upstream OpenAI-compatible model when the local LLM cannot answer (docs/reliability.md).

Per route (`Profile.upstream`): the local model is asked first; when it is overloaded, its replica is lost or not
running, or (designs) its layouts miss the checks after the retry, the same request goes to the upstream, whose
answers take the same path after it (for designs: parsing, layout engine, checks). A circuit breaker stops calling
an upstream that keeps failing for a while; the caller then gets a 503 with Retry-After at once.
No Ray here: the deployments give `Fallback.run` their local call and their check for a running replica.
"""

from __future__ import annotations

import math
import os
import time
from functools import cached_property
from typing import Any, Awaitable, Callable, TypeVar

import openai

from adgenesis.engines.design import NoLayout
from adgenesis.errors import RETRY_AFTER_S, RequestError, Unavailable
from adgenesis.protocol import ServedBy
from adgenesis.settings import UpstreamSettings

T = TypeVar("T")


class LocalUnavailable(Unavailable):
    """The local LLM could not take the request (`reason`: overloaded, replica_lost): a 503 with Retry-After."""

    def __init__(self, reason: str, message: str):
        super().__init__(message, RETRY_AFTER_S)
        self.reason = reason

    def __reduce__(self):  # raised in the design replica, pickled to the ingress: rebuilt from its own arguments
        return LocalUnavailable, (self.reason, self.message)


class UpstreamRefused(Unavailable):
    """The breaker is open: the upstream is not called (a 503, Retry-After the seconds it stays open)."""

    def __init__(self, failures: int, wait_s: float):
        super().__init__(f"the upstream model failed {failures} times in a row and is not called for "
                         f"{math.ceil(wait_s)} s more", math.ceil(wait_s))
        self.failures, self.wait_s = failures, wait_s

    def __reduce__(self):  # raised in the design replica, pickled to the ingress: rebuilt from its own arguments
        return UpstreamRefused, (self.failures, self.wait_s)


class CircuitBreaker:
    """Closed until `failures_to_open` calls in a row fail; then open (calls refused) for `open_s`; then one call
    is let through, and its outcome closes the breaker or opens it again."""

    def __init__(self, failures_to_open: int, open_s: float, clock: Callable[[], float] = time.monotonic):
        self.failures_to_open, self.open_s, self._clock = failures_to_open, open_s, clock
        self._failures = 0
        self._open_until = 0.0

    def retry_after_s(self) -> float | None:
        """Seconds until a call may be made again; None when one may be made now."""
        left = self._open_until - self._clock()
        return left if left > 0 else None

    def record(self, ok: bool) -> None:
        if ok:
            self._failures = 0
            return
        self._failures += 1
        if self._failures >= self.failures_to_open:
            self._failures = self.failures_to_open - 1  # once half-open, one more failure opens it again
            self._open_until = self._clock() + self.open_s


class Upstream:
    """One upstream endpoint behind a circuit breaker; the OpenAI client is made on first use, in the replica."""

    def __init__(self, settings: UpstreamSettings):
        self.settings = settings
        self.breaker = CircuitBreaker(settings.failures_to_open, settings.open_s)

    @cached_property
    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.settings.base_url, api_key=os.environ.get(self.settings.api_key_env) or "unset",
            timeout=self.settings.timeout_s, max_retries=0)  # the breaker, not the client, decides on retries

    async def chat(self, messages: list[dict[str, str]], **params: Any):
        """One chat completion from the upstream (OpenAI's `ChatCompletion`); UpstreamRefused while the breaker is
        open, Unavailable with Retry-After when the call fails."""
        if (wait := self.breaker.retry_after_s()) is not None:
            raise UpstreamRefused(self.breaker.failures_to_open, wait)
        try:
            response = await self.client.chat.completions.create(model=self.settings.model, messages=messages, **params)
        except openai.OpenAIError as exc:
            self.breaker.record(ok=False)
            wait = self.breaker.retry_after_s()
            raise Unavailable(f"the upstream model failed: {type(exc).__name__}: {str(exc)[:300]}",
                               math.ceil(wait) if wait is not None else RETRY_AFTER_S) from None
        self.breaker.record(ok=True)
        return response


class Fallback:
    """A route's local LLM first, its upstream (when the profile names one) when the local one cannot answer;
    `local_running` says whether a replica of the local LLM runs now, `record(reason, outcome)` counts a fallback
    (`metrics.FALLBACK_REASONS`, `metrics.FALLBACK_OUTCOMES`)."""

    def __init__(self, upstream: Upstream | None = None, local_running: Callable[[], Awaitable[bool]] | None = None,
                 record: Callable[[str, str], None] | None = None):
        self.upstream, self._local_running, self._record = upstream, local_running, record

    async def run(self, local: Callable[[], Awaitable[T]],
                  upstream: Callable[[Upstream], Awaitable[T]]) -> tuple[T, ServedBy]:
        if self.upstream is None:
            return await local(), "local"
        missed: NoLayout | None = None
        if not await self._local_running():
            reason = "no_replica"
        else:
            try:
                return await local(), "local"
            except LocalUnavailable as exc:
                reason = exc.reason
            except NoLayout as exc:
                reason, missed = "missed_checks", exc
        try:
            answer = await upstream(self.upstream)
        except RequestError as exc:
            self._record(reason, "refused" if isinstance(exc, UpstreamRefused) else "failed")
            # A local model that had an answer of its own gives it (its layouts missed the checks: a 422); one that
            # had none, the upstream's 503.
            raise (missed or exc) from None
        self._record(reason, "served")
        return answer, "upstream"
