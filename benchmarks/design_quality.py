"""Ad quality as a designer judges it, and speed, of `/v1/designs` for the served default and the base model.

For each configuration (model x mode) every prompt gets one layout over HTTP, and the layout is checked
here with `adgenesis.engines.quality.check` (headline legible and on-topic, a tappable CTA, 3-6 elements
without duplicate or overlapping texts, text that fits with the real fonts, WCAG contrast on the rendered
pixels, alignment; and the words: no fact the brief did not give, its offer stated, clean copy). Reported per
configuration: the pass rate of each check and of all together, the offer stated where a brief has one, texts
cut mid-word, latency p50/p95 at concurrency 1 and 8, layouts per minute at 8, completion tokens per layout,
refusals (4xx).

    python benchmarks/design_quality.py                    # deploys the local graph, validation prompts
    python benchmarks/design_quality.py --prompts data/design_eval/heldout_briefs.jsonl --configs default_brief
    python benchmarks/design_quality.py --url http://127.0.0.1:8000 --prompts my_briefs.jsonl

Prompt files are JSONL with `prompt`, `platform`, `format` (data/design_sft/validation.jsonl by default).
The slower configurations (the base model; free mode, ~10x the tokens) run on `--subset` prompts, one per
(platform, format) first. Numbers go to benchmarks/results.jsonl with the machine and commit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from adgenesis.engines.facts import read_brief  # noqa: E402
from adgenesis.engines.quality import check, summarize  # noqa: E402
from adgenesis.paths import DATA_DIR  # noqa: E402
from adgenesis.schema import Design  # noqa: E402
from results import percentiles, record  # noqa: E402

# (name, model, mode, on every prompt?) - the served default first: it is what users get.
CONFIGS = [
    ("default_brief", "design-llm", "brief", True),
    ("base_brief", "design-llm:base", "brief", False),
    ("base_free", "design-llm:base", "free", False),
    ("default_free", "design-llm", "free", False),
]


def load_prompts(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{"prompt": r["prompt"], "platform": r["platform"], "format": r["format"]} for r in rows]


def spread(rows: list[dict], n: int) -> list[dict]:
    """Up to n rows, one per (platform, format) before any pair repeats."""
    by_pair: dict[tuple, list[dict]] = {}
    for r in rows:
        by_pair.setdefault((r["platform"], r["format"]), []).append(r)
    out, depth = [], 0
    while len(out) < min(n, len(rows)):
        for group in by_pair.values():
            if depth < len(group) and len(out) < n:
                out.append(group[depth])
        depth += 1
    return out


def one(client: httpx.Client, row: dict, model: str, mode: str, seed: int) -> dict:
    t0 = time.perf_counter()
    r = client.post("/v1/designs", json={**row, "model": model, "mode": mode, "seed": seed})
    latency = time.perf_counter() - t0
    if r.status_code != 200:
        return {"latency_s": latency, "status": r.status_code, "error": r.text[:300]}
    body = r.json()
    design = Design.model_validate(body["designs"][0])
    report = check(design, row["prompt"])
    return {"latency_s": latency, "status": 200, "report": report, "tokens": body["usage"]["completion_tokens"],
            "design": body["designs"][0]}


def run(client: httpx.Client, rows: list[dict], model: str, mode: str, concurrency: int) -> tuple[list[dict], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda ir: one(client, ir[1], model, mode, ir[0]), enumerate(rows)))
    return results, time.perf_counter() - started


def measure(client: httpx.Client, rows: list[dict], model: str, mode: str, latency_rows: int) -> dict:
    one(client, rows[0], model, mode, 10_000)  # warm-up: first LoRA load, grammar compilation
    at8, wall8 = run(client, rows, model, mode, 8)
    at1, _ = run(client, rows[:latency_rows], model, mode, 1)
    ok = [r for r in at8 if r["status"] == 200]
    offered = [r for row, r in zip(rows, at8) if read_brief(row["prompt"]).offers]
    reports = [r["report"] for r in ok]
    rates = summarize(reports)
    rates["all"] = sum(r.passed for r in reports) / len(rows)  # a refused request is a layout that failed
    lat = lambda rs: {k: round(v, 2) if v is not None else None  # noqa: E731
                      for k, v in percentiles([r["latency_s"] for r in rs]).items()}
    return {
        "model": model, "mode": mode, "prompts": len(rows),
        "pass_rates": {k: round(v, 3) for k, v in rates.items()},
        "refused": len(rows) - len(ok),
        # The customer's lawyer: of the briefs that carry an offer (facts.read_brief), the share whose layout states
        # it (a refused request does not). benchmarks/design_copy.py measures the words in full.
        "offer_stated_where_given": round(sum(r["status"] == 200 and r["report"].checks["offer"] for r in offered)
                                          / len(offered), 3) if offered else None,
        "briefs_with_offer": len(offered),
        "latency_c1_s": lat(at1), "latency_c1_prompts": len(at1),
        "latency_c8_s": lat(at8),
        "layouts_per_min_c8": round(len(ok) / wall8 * 60, 1),
        "tokens_per_layout": round(sum(r["tokens"] for r in ok) / max(1, len(ok)), 1),
        "failures": sorted({p.split(" ", 2)[-1][:80] for r in ok for p in r["report"].problems})[:12],
        "examples": [{"prompt": row["prompt"], **{k: r[k] for k in ("design",) if k in r}}
                     for row, r in zip(rows[:2], at8[:2])],
    }


def save_examples(client: httpx.Client, rows: list[dict], model: str, mode: str, prefix: Path) -> None:
    """The same prompts and seeds for every configuration, so the pictures compare like with like."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        r = client.post("/v1/designs", json={**row, "model": model, "mode": mode, "seed": i})
        if r.status_code != 200:
            print(f"example {prefix.name}-{i}: {r.status_code} {r.text[:200]}")
            continue
        png = client.post("/v1/designs/render", json={"design": r.json()["designs"][0]})
        Path(f"{prefix}-{i}.png").write_bytes(png.content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: deploy the local graph on a fresh local Ray)")
    parser.add_argument("--prompts", type=Path, default=DATA_DIR / "design_sft" / "validation.jsonl")
    parser.add_argument("--subset", type=int, default=18, help="prompts for the slower configurations")
    parser.add_argument("--latency-prompts", type=int, default=18, help="prompts timed one at a time")
    parser.add_argument("--slow-latency-prompts", type=int, default=6,
                        help="prompts timed one at a time for the slower configurations")
    parser.add_argument("--configs", nargs="+", default=[c[0] for c in CONFIGS], choices=[c[0] for c in CONFIGS])
    parser.add_argument("--examples", type=Path, help="also save the first layouts of each configuration, "
                        "rendered by /v1/designs/render, as <dir>/<config>-<i>.png (docs/design/ uses these)")
    parser.add_argument("--n-examples", type=int, default=4)
    args = parser.parse_args()
    rows = load_prompts(args.prompts)

    if args.url:
        cluster, base = nullcontext(None), args.url
    else:
        from tools.local_cluster import deploy, local_ray, wait_ready

        cluster = local_ray()
    results: dict = {"prompts_file": str(args.prompts), "prompts": len(rows)}
    with cluster as ray_cluster:
        if ray_cluster:
            base = deploy(ray_cluster.dashboard, workdir=Path(tempfile.mkdtemp()))
            results["cold_start_s"] = round(wait_ready(base, ray_cluster.dashboard), 1)
        with httpx.Client(base_url=base, timeout=900) as client:
            for name, model, mode, everywhere in CONFIGS:
                if name not in args.configs:
                    continue
                subset = rows if everywhere else spread(rows, args.subset)
                timed = args.latency_prompts if everywhere else args.slow_latency_prompts
                results[name] = measure(client, subset, model, mode, min(timed, len(subset)))
                if args.examples:
                    save_examples(client, spread(rows, args.n_examples), model, mode, args.examples / name)
                summary = {k: results[name][k] for k in ("pass_rates", "latency_c1_s", "layouts_per_min_c8",
                                                         "tokens_per_layout", "refused")}
                print(f"{name}: {json.dumps(summary)}", flush=True)
    record("design_quality", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
