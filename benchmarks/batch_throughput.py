"""Design rows per minute: the batch job (`batch_jobs.designs`: a Ray Data actor with a vLLM engine of its own)
against the online path (`POST /v1/designs` over HTTP at concurrency 8), the same rows, one machine, one run.

    python benchmarks/batch_throughput.py                 # deploys the local graph; data/catalogue/designs.jsonl
    python benchmarks/batch_throughput.py --rows 50       # fewer rows

The online path gets one warm-up row first (the app is deployed and loaded before it is timed); the batch job's
time includes starting its engine, as a job's does. Each path has the machine to itself: the app is shut down
before the batch job starts (the job does not use it; idle, its replicas and Ray's OpenAI server would still take
CPU from the job's engine on two cores). Numbers (rows/min each, the ratio, failed rows, the batch
settings, the online path's latency at concurrency 8) go to benchmarks/results.jsonl with the machine and commit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from ray import serve  # noqa: E402

from tools.local_cluster import deploy, local_ray, wait_ready  # noqa: E402
from adgenesis.paths import DATA_DIR  # noqa: E402
from adgenesis.rows import read_rows  # noqa: E402
from batch_jobs.common import run  # noqa: E402
from batch_jobs.designs import Designer, DesignRow  # noqa: E402
from results import percentiles, record  # noqa: E402

ONLINE_CONCURRENCY = 8


def online(base: str, rows: list[DesignRow]) -> dict:
    """Every row through POST /v1/designs at ONLINE_CONCURRENCY: seconds, rows/min, failed, latency p50/p95."""
    with httpx.Client(base_url=base, timeout=900) as client:
        def one(row: DesignRow) -> tuple[bool, float]:
            t0 = time.perf_counter()
            r = client.post("/v1/designs", json=row.model_dump(exclude={"id"}, exclude_none=True))
            return r.status_code == 200, time.perf_counter() - t0

        start = time.perf_counter()
        with ThreadPoolExecutor(ONLINE_CONCURRENCY) as pool:
            done = list(pool.map(one, rows))
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "rows_per_min": round(60 * len(rows) / seconds, 1),
            "failed": sum(not ok for ok, _ in done),
            "latency_s": {k: round(v, 2) for k, v in percentiles([s for _, s in done]).items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DATA_DIR / "catalogue" / "designs.jsonl")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=Designer.BATCH_SIZE)
    parser.add_argument("--concurrency", type=int, default=Designer.CONCURRENCY)
    args = parser.parse_args()
    rows = read_rows(args.input, DesignRow)[: args.rows + 1]
    warm, rows = rows[0], rows[1:]
    results: dict = {"rows": len(rows), "online_concurrency": ONLINE_CONCURRENCY, "batch_size": args.batch_size,
                     "batch_workers": args.concurrency}
    with local_ray() as cluster:
        base = deploy(cluster.dashboard, workdir=Path(tempfile.mkdtemp()))
        results["cold_start_s"] = round(wait_ready(base, cluster.dashboard), 1)
        online(base, [warm])
        results["online"] = online(base, rows)
        serve.shutdown()
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            summary = run("designs", rows, Designer, Path(out) / "batch", args.batch_size, args.concurrency)
            seconds = time.perf_counter() - start
        results["batch"] = {"seconds": round(seconds, 1), "rows_per_min": round(60 * len(rows) / seconds, 1),
                            "failed": summary["failed"]}
    results["batch_over_online"] = round(results["batch"]["rows_per_min"] / results["online"]["rows_per_min"], 2)
    results["online_over_batch"] = round(results["online"]["rows_per_min"] / results["batch"]["rows_per_min"], 2)
    record("batch_throughput", results)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
