"""The other way a designs batch could run: a `vllm.LLM` of its own (what a Ray Data actor would hold) instead of
the running app. Same prompts, brief schema, parsing and quality checks as `/v1/designs`; no Serve in the way.

    python benchmarks/batch_engine_offline.py [--rows 96] [--seqs 48]

Reports rows/min once the engine is loaded (generation + layout + checks), tokens/s and the pass rate, to
benchmarks/results.jsonl; compare with `benchmarks/batch_throughput.py` (docs/batch.md). Seeded, with chunked
prefill off, as deployments/llm.py runs CPU engines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=96)
    parser.add_argument("--seqs", type=int, default=48)
    args = parser.parse_args()

    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from adgenesis.engines.design import LayoutError, build_messages, copy_for, finish, response_format
    from adgenesis.engines.quality import check
    from adgenesis.paths import DATA_DIR
    from adgenesis.schema import canvas_for
    from adgenesis.settings import load_profile
    from results import record

    settings = load_profile("local").llm
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(settings.cpu_kvcache_gib))
    started = time.perf_counter()
    llm = LLM(model=str(load_profile("local").path(settings.model_source)), dtype=settings.dtype,
              max_model_len=settings.max_model_len, max_num_seqs=args.seqs, enforce_eager=True,
              enable_chunked_prefill=False, max_num_batched_tokens=settings.max_num_batched_tokens,
              structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True})
    load_s = time.perf_counter() - started
    rows = [json.loads(line) for line in (DATA_DIR / "catalogue" / "designs.jsonl").read_text().splitlines()][: args.rows]
    canvases = [canvas_for(r["platform"], r["format"]) for r in rows]
    copies = [copy_for(r["prompt"]) for r in rows]
    messages = [build_messages(r["prompt"], c) for r, c in zip(rows, canvases)]
    params = [SamplingParams(max_tokens=settings.brief_max_tokens, temperature=settings.temperature, seed=r["seed"],
                             structured_outputs=StructuredOutputsParams(json=response_format(c, copy)["json_schema"]["schema"]))
              for r, c, copy in zip(rows, canvases, copies)]
    llm.chat(messages[:2], params[:2], use_tqdm=False)  # grammar compile, caches

    start = time.perf_counter()
    outputs = llm.chat(messages, params, use_tqdm=False)
    generate_s = time.perf_counter() - start
    passed = 0
    for out, copy, canvas in zip(outputs, copies, canvases):
        try:
            passed += check(finish(out.outputs[0].text, canvas, copy, "brief", out.outputs[0].finish_reason).design,
                            copy.facts).passed
        except LayoutError:
            pass
    total_s = time.perf_counter() - start
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    record("batch_engine_offline", {
        "rows": len(rows), "max_num_seqs": args.seqs, "engine_load_s": round(load_s, 1),
        "tokens_per_s": round(tokens / generate_s, 1), "rows_per_min": round(60 * len(rows) / total_s, 1),
        "passed_all_checks": round(passed / len(rows), 3),
    })


if __name__ == "__main__":
    main()
