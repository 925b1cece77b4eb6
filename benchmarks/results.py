"""Append benchmark numbers, with the machine and commit they came from, to benchmarks/results.jsonl."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results.jsonl")


def machine() -> dict:
    cpu = platform.processor()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout
        return sha.strip() + ("-dirty" if dirty.strip() else "")
    except OSError:
        return "unknown"


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]}


def record(benchmark: str, results: dict, measured_commit: str | None = None) -> dict:
    """Append one entry; `measured_commit` when the code measured is not this checkout's HEAD (a clone of it)."""
    entry = {"benchmark": benchmark, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "commit": measured_commit or commit(), "machine": machine(), "results": results}
    with RESULTS.open("a") as f:
        f.write(json.dumps(entry) + "\n")
    print(json.dumps(entry, indent=2))
    return entry
