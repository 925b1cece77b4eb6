"""A local HTTP service run as a child process for as long as a block needs it (Prometheus for `make monitor` and
the tests, a second vLLM server as the tests' upstream): started with its output in a log file, ready once a URL
answers 200, stopped at the end."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from adgenesis.polling import poll

STOP_WAIT_S = 30  # a graceful exit (vLLM frees its engine processes), then SIGKILL


@contextmanager
def http_service(name: str, args: list[str], ready_url: str, log: Path, *, timeout_s: float,
                 headers: dict | None = None, env: dict | None = None,
                 cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """The process (`name` in errors), ready (`ready_url` answers 200), until the block ends; its stdout and stderr in `log` (a file,
    not a pipe: a service that logs on would fill a pipe and stall)."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            ready = False
            for _ in poll(timeout_s, interval_s=0.5):
                try:
                    ready = httpx.get(ready_url, headers=headers, timeout=5).status_code == 200
                except httpx.TransportError:
                    pass
                if ready or proc.poll() is not None:
                    break
            if not ready:
                why = f"exited ({proc.returncode})" if proc.returncode is not None else f"not ready in {timeout_s:.0f} s"
                raise RuntimeError(f"{name} did not start: {why}; the end of {log}:\n"
                                   f"{log.read_text(errors='replace')[-2000:]}")
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after STOP_WAIT_S; nothing when it has already exited."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
