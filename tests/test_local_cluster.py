"""tools/local_cluster.renice, on a real process with threads (no Ray): every thread moves, not only the main one."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tools.local_cluster import CLUSTER_TAG_ENV, renice

THREADS = """
import threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


def thread_niceness(pid: int) -> dict[int, int]:
    # /proc/PID/task/TID/stat: the 19th field is the niceness; the command (2nd) is in parentheses, split after it.
    return {int(t.name): int((t / "stat").read_text().rsplit(")", 1)[1].split()[16])
            for t in Path(f"/proc/{pid}/task").iterdir()}


@pytest.mark.skipif(os.geteuid() != 0, reason="lowering a niceness needs root, as tests/conftest.py's renice does")
def test_renice_moves_every_thread_of_the_tagged_processes_and_no_other():
    tag = uuid.uuid4().hex
    env = {**os.environ, CLUSTER_TAG_ENV: tag}
    tagged = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", THREADS], env=env, stdout=subprocess.PIPE)
    other = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", THREADS], stdout=subprocess.PIPE)
    try:
        for proc in (tagged, other):
            assert proc.stdout.readline().strip() == b"ready"
        assert set(thread_niceness(tagged.pid).values()) == {10} and len(thread_niceness(tagged.pid)) == 4
        renice(tag)
        assert set(thread_niceness(tagged.pid).values()) == {0}
        assert set(thread_niceness(other.pid).values()) == {10}
    finally:
        for proc in (tagged, other):
            proc.kill()
            proc.wait()
