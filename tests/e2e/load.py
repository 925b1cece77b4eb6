"""A bounded load loop for the e2e tests: threads posting one body back to back, every answer kept."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Self

REQUEST_ID_HEADER = "X-Request-Id"


@dataclass
class Result:
    thread: int
    started: float
    ended: float
    status: int
    version: str | None
    error: str | None = None


@dataclass
class LoadLoop:
    """`threads` clients posting `body` to `path` back to back until stopped, `max_requests` or `max_seconds`."""

    url: str
    path: str
    body: dict
    threads: int
    max_requests: int
    max_seconds: float
    # The `X-Request-Id` of each request (the proxy makes one when this is None): a canary splits on it.
    request_id: Callable[[], str] | None = None
    results: list[Result] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        self._deadline = time.monotonic() + self.max_seconds

    def _run(self, i: int) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=300) as client:
            while not self._stop.is_set() and time.monotonic() < self._deadline and len(self.results) < self.max_requests:
                t0 = time.time()
                try:
                    headers = {REQUEST_ID_HEADER: self.request_id()} if self.request_id is not None else None
                    r = client.post(self.path, json=self.body, headers=headers)
                    ok = r.status_code == 200
                    res = Result(i, t0, time.time(), r.status_code, r.json().get("model_version") if ok else None,
                                 None if ok else r.text[:3000])
                except Exception as exc:  # noqa: BLE001 - a failed request is a result, not a crash
                    res = Result(i, t0, time.time(), 0, None, repr(exc)[:300])
                with self._lock:
                    self.results.append(res)

    def __enter__(self) -> Self:
        for w in self._workers:
            w.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for w in self._workers:
            w.join(timeout=360)

    def wait(self, predicate, what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(list(self.results)):
            if time.monotonic() > deadline or all(not w.is_alive() for w in self._workers):
                raise AssertionError(f"load loop: {what} not reached in {timeout_s:.0f}s; {self.summary()}")
            time.sleep(0.2)

    def summary(self) -> dict:
        return {"requests": len(self.results), "status": dict(Counter(r.status for r in self.results)),
                "versions": dict(Counter(r.version for r in self.results))}
