"""The one way to wait for something outside this process (a job to end, replicas to answer, a server to start):
try, and if it is not done, sleep and try again until a deadline.

    for _ in poll(timeout_s=120, interval_s=0.5):
        if done():
            return
    raise TimeoutError(...)

A try is made after the deadline has passed only if the deadline passed while it slept
(each try that began before the deadline gets one more look), so a loop ends at most one interval late."""

from __future__ import annotations

import time
from collections.abc import Iterator


def poll(timeout_s: float, interval_s: float, at_once: bool = True) -> Iterator[float]:
    """Yields the seconds since the start, before each try; stops once a try ends past `timeout_s`. The first try
    is at once, or after one interval (`at_once=False`: the first look is worth taking only after a wait)."""
    start = time.monotonic()
    if not at_once:
        time.sleep(interval_s)
    while True:
        yield time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            return
        time.sleep(interval_s)
