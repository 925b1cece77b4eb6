"""A local service run as a child process for as long as a block needs it (Prometheus for `make monitor` and the
tests, a second vLLM server as the tests' upstream, a throwaway PostgreSQL for the store's tests): started with its
output in a log file, ready once a check passes (an HTTP URL answers 200, a database takes a connection), stopped at
the end."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx

from adgenesis.polling import poll

STOP_WAIT_S = 30  # a graceful exit (vLLM frees its engine processes), then SIGKILL
READY_INTERVAL_S = 0.5


@contextmanager
def child_service(name: str, args: list[str], ready: Callable[[], bool], log: Path, *, timeout_s: float,
                  interval_s: float = READY_INTERVAL_S, stop_signal: int = signal.SIGTERM,
                  **popen: Any) -> Iterator[subprocess.Popen]:
    """The process (`name` in errors), ready (`ready()` is true), until the block ends; its stdout and stderr in `log`
    (a file, not a pipe: a service that logs on would fill a pipe and stall). `popen`: Popen's (env, cwd, user)."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **popen)
        try:
            up = False
            for _ in poll(timeout_s, interval_s=interval_s):
                up = ready()
                if up or proc.poll() is not None:
                    break
            if not up:
                exited = proc.returncode is not None
                why = f"exited ({proc.returncode})" if exited else f"not ready in {timeout_s:.0f} s"
                raise RuntimeError(f"{name} did not start: {why}; the end of {log}:\n"
                                   f"{log.read_text(errors='replace')[-2000:]}")
            yield proc
        finally:
            stop(proc, stop_signal)


@contextmanager
def http_service(name: str, args: list[str], ready_url: str, log: Path, *, timeout_s: float,
                 headers: dict | None = None, env: dict | None = None,
                 cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """A child service that is ready once `ready_url` answers 200."""

    def ready() -> bool:
        try:
            return httpx.get(ready_url, headers=headers, timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    with child_service(name, args, ready, log, timeout_s=timeout_s, env=env, cwd=cwd) as proc:
        yield proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """`sig` (SIGTERM), then SIGKILL after STOP_WAIT_S; nothing when it has already exited."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
