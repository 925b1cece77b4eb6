"""One stream of design briefs: the raw vLLM engine against `POST /v1/designs`, in one run.

The same model folder, engine arguments (`adgenesis.engines.vllm_setup.engine_setup`), held-out briefs, chat, JSON Schema
and seeds, so both paths decode the same tokens (checked per brief and reported). Each brief goes through
`engines.design.make_layouts` (retries included) on a bare vLLM `AsyncLLM` in a process of its own, the engine's
calls timed apart from the design code around them; then the local graph is deployed and the same briefs are
posted one at a time. Reported per variant: p50/p95 seconds per brief, tokens per layout, tokens/s, the share
passing every quality check; and served/raw at p50, the served time split into the engine, our design code, the
rest of the design replica (its `latency_ms` beyond the raw path) and Serve's HTTP, proxy and ingress.

Variants change the profile's LLM settings (`--raw`, `--served`): `profile` as shipped; `no_lora` without
the LoRA-enabled engine (the default model is a merged one; adapters need it); `ngram` with prompt-lookup
speculative decoding (`speculative_ngram_tokens`).

    python benchmarks/served_vs_raw.py                             # raw variants, then the graph per --served
    python benchmarks/served_vs_raw.py --briefs 12 --served profile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import yaml  # noqa: E402

from adgenesis.paths import CONFIGS_DIR, DATA_DIR  # noqa: E402
from results import percentiles, record  # noqa: E402

VARIANTS: dict[str, dict] = {
    "profile": {},
    "no_lora": {"lora_dir": None},
    "ngram": {"speculative_ngram_tokens": 4},
}
SEED = 1000  # brief i gets seed SEED + i on both paths


def briefs(count: int) -> list[dict]:
    rows = [json.loads(line) for line in (DATA_DIR / "design_eval" / "heldout_briefs.jsonl").read_text().splitlines()
            if line.strip()]
    step = max(1, len(rows) // count)
    return [{k: r[k] for k in ("prompt", "platform", "format")} for r in rows[::step][:count]]


def profile_file(variant: str, workdir: Path) -> Path:
    raw = yaml.safe_load((CONFIGS_DIR / "local.yaml").read_text())
    raw["llm"].update(VARIANTS[variant])
    path = workdir / f"profile-{variant}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def headline(design: dict) -> str:
    return next(e.get("text", "") for e in design["elements"] if e.get("role") == "headline")


def stats(rows: list[dict], key: str) -> dict:
    return {k: round(v, 3) for k, v in percentiles([r[key] for r in rows]).items()}


# --- raw: the engine in this process, no Ray -------------------------------------------------------------------

async def _raw(profile: Path, rows: list[dict]) -> dict:
    from adgenesis.engines.design import Answer, Completion, DesignModels, make_layouts
    from adgenesis.protocol import DesignRequest
    from adgenesis.ray_compat import (AsyncEngineArgs, AsyncLLM, RequestOutputKind, SamplingParams,
                                      StructuredOutputsParams, TokensPrompt)
    from adgenesis.settings import load_profile
    from adgenesis.engines.vllm_setup import engine_setup, model_folder

    settings = load_profile(str(profile)).llm
    kwargs, env = engine_setup(settings)
    os.environ.update(env)
    started = time.perf_counter()
    engine = AsyncLLM.from_engine_args(AsyncEngineArgs(model=model_folder(settings), disable_log_stats=True, **kwargs))
    engine_start_s = time.perf_counter() - started
    tokenizer = engine.get_tokenizer()
    models = DesignModels(settings)
    out = []
    for i, row in enumerate([rows[0], *rows]):  # the first one again as a warm-up (grammar compilation)
        plan = models.plan(DesignRequest(**row, seed=SEED + i - 1))
        engine_s = 0.0

        async def complete(ask):
            nonlocal engine_s
            t0 = time.perf_counter()
            text = tokenizer.apply_chat_template(ask.messages, add_generation_prompt=True, tokenize=False)
            prompt = TokensPrompt(prompt_token_ids=tokenizer.encode(text, add_special_tokens=False))
            params = SamplingParams(n=ask.n, max_tokens=ask.max_tokens, temperature=settings.temperature, seed=ask.seed,
                                    structured_outputs=StructuredOutputsParams(json=ask.response_format["json_schema"]["schema"]),
                                    output_kind=RequestOutputKind.FINAL_ONLY)
            final = None
            async for final in engine.generate(prompt, params, uuid.uuid4().hex):
                pass
            engine_s += time.perf_counter() - t0
            return Completion([Answer(o.text, o.finish_reason) for o in final.outputs], len(final.prompt_token_ids),
                              sum(len(o.token_ids) for o in final.outputs))

        t0 = time.perf_counter()
        result = await make_layouts(plan, "brief", 1, complete)
        out.append({"total_s": time.perf_counter() - t0, "engine_s": engine_s, "passed": result.chosen[0].report.passed,
                    "tokens": result.usage["completion_tokens"],
                    "headline": headline(result.chosen[0].design.model_dump(mode="json"))})
    engine.shutdown()
    return {"engine_start_s": round(engine_start_s, 1), "briefs": out[1:]}


def raw_variant(variant: str, rows: list[dict], workdir: Path) -> dict:
    """One variant's raw engine in a child process: each starts on an idle machine and leaves nothing behind."""
    out = workdir / f"raw-{variant}.json"
    subprocess.run([sys.executable, __file__, "--raw-child", str(profile_file(variant, workdir)), "--out", str(out),
                    "--briefs", str(len(rows))], check=True)
    return json.loads(out.read_text())


# --- served: the local graph over HTTP -------------------------------------------------------------------------

def served_variant(variant: str, rows: list[dict], workdir: Path) -> dict:
    from tools.local_cluster import deploy, local_ray, wait_ready

    profile = profile_file(variant, workdir)

    def edit(cfg: dict) -> None:
        cfg["applications"][0]["args"]["profile"] = str(profile)

    with local_ray() as cluster:
        base = deploy(cluster.dashboard, workdir=workdir, edit=edit)
        cold_start_s = wait_ready(base, cluster.dashboard)
        out = []
        with httpx.Client(base_url=base, timeout=600) as client:
            for i, row in enumerate([rows[0], *rows]):
                t0 = time.perf_counter()
                r = client.post("/v1/designs", json={**row, "seed": SEED + i - 1})
                total = time.perf_counter() - t0
                r.raise_for_status()
                body = r.json()
                out.append({"total_s": total, "replica_s": body["latency_ms"] / 1000, "passed": body["quality"][0]["passed"],
                            "tokens": body["usage"]["completion_tokens"],
                            "headline": headline(body["designs"][0])})
    return {"cold_start_s": round(cold_start_s, 1), "briefs": out[1:]}


def summary(run: dict) -> dict:
    rows = run["briefs"]
    tokens = sum(r["tokens"] for r in rows)
    s = {k: v for k, v in run.items() if k != "briefs"}
    s.update({"briefs": len(rows), "total_s": stats(rows, "total_s"), "tokens_per_layout": round(tokens / len(rows), 1),
              "tokens_per_s": round(tokens / sum(r["total_s"] for r in rows), 2),
              "pass_all": round(sum(r["passed"] for r in rows) / len(rows), 3)})
    for key in ("engine_s", "replica_s"):
        if key in rows[0]:
            s[key] = stats(rows, key)
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs", type=int, default=24)
    parser.add_argument("--raw", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--served", nargs="*", default=["profile"], choices=list(VARIANTS))
    parser.add_argument("--raw-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = briefs(args.briefs)
    if args.raw_child:
        args.out.write_text(json.dumps(asyncio.run(_raw(args.raw_child, rows))))
        return 0

    workdir = Path(tempfile.mkdtemp())
    runs = {f"raw_{v}": raw_variant(v, rows, workdir) for v in args.raw}
    runs.update({f"served_{v}": served_variant(v, rows, workdir) for v in args.served})
    results: dict = {"briefs_file": "design_eval/heldout_briefs.jsonl", "briefs": len(rows), "concurrency": 1,
                     **{name: summary(run) for name, run in runs.items()}}
    for v in args.served:
        raw, served = runs.get(f"raw_{v}"), runs[f"served_{v}"]
        if raw is None:
            continue
        same = sum(a["tokens"] == b["tokens"] and a["headline"] == b["headline"]
                   for a, b in zip(raw["briefs"], served["briefs"]))
        r, s = results[f"raw_{v}"], results[f"served_{v}"]
        results[f"served_over_raw_{v}"] = {
            "p50": round(s["total_s"]["p50"] / r["engine_s"]["p50"], 2),
            "p50_vs_raw_with_design_code": round(s["total_s"]["p50"] / r["total_s"]["p50"], 2),
            "same_tokens_and_headline": f"{same}/{len(rows)}",
            # Where the served time goes, per brief at p50: the engine (raw), our design code, and Serve.
            "split_p50_s": {"engine": r["engine_s"]["p50"],
                            "design_code": round(r["total_s"]["p50"] - r["engine_s"]["p50"], 3),
                            "in_replica_beyond_raw": round(s["replica_s"]["p50"] - r["total_s"]["p50"], 3),
                            "serve_hops_and_http": round(s["total_s"]["p50"] - s["replica_s"]["p50"], 3)},
        }
    record("served_vs_raw", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
