"""What a running canary costs the design requests (record `canary_overhead`): this checkout's local graph on a fresh
local Ray, the same held-out briefs at concurrency 8, first with nothing promoted, then with a canary at 50 % whose
gate never decides (so it runs the whole time). The candidate is a LoRA adapter with B = 0 (the merged model's own
answers through the adapter's code path), registered in the graph's MLflow store as a version.

Both numbers are in one run; the second includes what the canary does per request (the split, one row written to the
store's database) and what its candidate costs (an adapter's decoding, on the requests it serves and, in the same
batch, on the others).

    .venv/bin/python benchmarks/canary_overhead.py [--requests 48] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adgenesis import registry as store  # noqa: E402
from adgenesis.paths import DATA_DIR, MODELS_DIR, resolve  # noqa: E402
from adgenesis.settings import load_profile  # noqa: E402

from results import percentiles, record  # noqa: E402

NAME = "design-llm-lora-bench-canary"
NEVER = 10**6  # min_requests: the gate waits for as long as the benchmark runs


def load(url: str, rows: list[dict], concurrency: int) -> tuple[list[float], dict[str, list[float]]]:
    """Every brief once, `concurrency` at a time: latencies, and latencies by the model version that answered."""
    import httpx

    def one(i: int) -> tuple[float, str]:
        row = rows[i]
        with httpx.Client(base_url=url, timeout=900) as client:
            start = time.perf_counter()
            r = client.post("/v1/designs", json={k: row[k] for k in ("prompt", "platform", "format")} | {"seed": i})
            r.raise_for_status()
            return time.perf_counter() - start, r.json()["model_version"]

    with ThreadPoolExecutor(concurrency) as pool:
        done = list(pool.map(one, range(len(rows))))
    by_version: dict[str, list[float]] = {}
    for took, version in done:
        by_version.setdefault(version, []).append(took)
    return [took for took, _ in done], by_version


def main() -> int:
    import httpx

    from tools.adapters import make_llm_adapter
    from tools.local_cluster import deploy, local_ray, wait_ready

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (DATA_DIR / "design_eval" / "heldout_briefs.jsonl").read_text().splitlines()
            if line.strip()][:args.requests]
    key, runs = secrets.token_urlsafe(16), Path(tempfile.mkdtemp())
    lora_dir = resolve(load_profile("local").llm.lora_dir)

    def edit(cfg: dict) -> None:
        cfg["applications"][0]["runtime_env"]["env_vars"].update({"ADGENESIS_API_KEY": key,
                                                                   "ADGENESIS_RUNS_DIR": str(runs)})

    client = store.connect(None, runs)
    run = client.create_run(store.ensure_experiment(client, "bench-canary"))
    adapter = make_llm_adapter(runs / "adapter", MODELS_DIR / "design-llm", scale=0.0)
    version = int(store.register_folder(client, run.info.run_id, adapter, NAME, tags={"recipe": "llm_sft"}).version)
    auth = {"Authorization": f"Bearer {key}"}
    try:
        with local_ray() as cluster:
            url = deploy(cluster.dashboard, workdir=Path(tempfile.mkdtemp()), edit=edit)
            wait_ready(url, cluster.dashboard)
            load(url, rows[: args.concurrency], args.concurrency)  # warm: grammars compiled, fonts read
            without, _ = load(url, rows, args.concurrency)
            with httpx.Client(base_url=url, timeout=600, headers=auth) as api:
                promotion = api.post(f"/v1/registry/models/{NAME}/promote", json={
                    "version": version, "strategy": "canary", "steps": [50, 100],
                    "gate": {"min_requests": NEVER}}).raise_for_status().json()
                try:
                    load(url, rows[: args.concurrency], args.concurrency)  # the adapter loaded in the LLM replica
                    during, by_version = load(url, rows, args.concurrency)
                    detail = api.get(f"/v1/registry/models/{NAME}/promotions/{promotion['id']}").json()
                finally:
                    api.post(f"/v1/registry/models/{NAME}/promotions/{promotion['id']}/cancel").raise_for_status()
    finally:
        shutil.rmtree(lora_dir / f"{NAME}-v{version}", ignore_errors=True)  # what the canary materialized
    p_without, p_during = percentiles(without), percentiles(during)
    record("canary_overhead", {
        "requests": len(rows), "concurrency": args.concurrency, "share_percent": 50,
        "p50_s_without": round(p_without["p50"], 3), "p50_s_with_canary": round(p_during["p50"], 3),
        "p50_ratio": round(p_during["p50"] / p_without["p50"], 3),
        "p95_s_without": round(p_without["p95"], 3), "p95_s_with_canary": round(p_during["p95"], 3),
        "p50_s_by_version": {v: round(percentiles(t)["p50"], 3) for v, t in by_version.items()},
        "requests_by_version": {v: len(t) for v, t in by_version.items()},
        "state_after": detail["state"],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
