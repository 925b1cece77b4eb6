"""`make serve`'s program stops cleanly: SIGTERM while the graph loads (its vLLM engine up) shuts Serve and Ray down,
prints one line, exits 0, and leaves none of its processes behind. Before, Ray's own handler aborted the process with
a C++ stack trace (exit 134)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
import pytest

from adgenesis.paths import REPO_ROOT

pytestmark = pytest.mark.integration

ENGINE_BOUND_S = 300  # the graph's start up to the LLM replica's vLLM engine, on a host 3x slower than ours
STOP_BOUND_S = 90


def _alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {p.name()}")
        except psutil.NoSuchProcess:
            pass
    return out


def test_sigterm_while_loading_shuts_serve_and_ray_down_and_exits_0():
    proc = subprocess.Popen([sys.executable, "-m", "tools.serve_local"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + ENGINE_BOUND_S
        family: list[psutil.Process] = []
        while not any("EngineCore" in p.name() for p in family):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "no vLLM engine started"
            time.sleep(1)
            family = psutil.Process(proc.pid).children(recursive=True)
        family = psutil.Process(proc.pid).children(recursive=True)  # raylet, GCS, workers, the engine's processes
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=STOP_BOUND_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert "logging.cc" not in out and "SIGTERM received" not in out, out[-3000:]
    assert out.rstrip().splitlines()[-1] == "stopped: Serve and Ray shut down", out[-3000:]
    deadline = time.monotonic() + 30
    while (left := _alive(family)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"left behind: {left}"


def test_local_ray_puts_the_callers_sigterm_handler_back_when_it_ends():
    # In a process of its own: this one's Ray and signal state belong to the test session.
    script = """
import signal
from tools.local_cluster import local_ray

def mine(*_):
    pass

signal.signal(signal.SIGTERM, mine)
with local_ray(num_cpus=1):
    assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
assert signal.getsignal(signal.SIGTERM) is mine
print("restored")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=STOP_BOUND_S * 2)
    assert done.returncode == 0 and done.stdout.strip().endswith("restored"), done.stderr[-2000:]
