"""vLLM engine settings on this CPU: which dtype / core binding decodes design layouts fastest.

No Ray, no HTTP: one `vllm.LLM` per setting, in its own process (an engine holds its cores and memory
until the process ends), the same held-out prompts, chat, layout JSON Schema and token budget for each.
Reports tokens/s for the prompts decoded together and for one prompt alone, and writes them with the
ratios to the first setting to benchmarks/results.jsonl.

    python benchmarks/vllm_cpu_settings.py                  # bf16 vs fp32, and fp32 on every core
    python benchmarks/vllm_cpu_settings.py --prompts 4 --max-tokens 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_throughput import load_prompts  # noqa: E402
from results import record  # noqa: E402

# name -> (engine kwargs over the profile's, extra environment)
SETTINGS = {
    "bf16": ({"dtype": "bfloat16"}, {}),
    "fp32": ({"dtype": "float32"}, {}),
    # vLLM keeps one core for its frontend by default; this gives the engine all of them.
    "fp32_all_cores": ({"dtype": "float32"}, {"VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}"}),
}


def run_one(overrides: dict, prompts: int, max_tokens: int) -> dict:
    """In the child process: build the engine from the local profile + overrides, decode, time it."""
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from adgenesis.engines.design import build_messages, copy_for, response_format
    from adgenesis.schema import canvas_for
    from adgenesis.settings import load_profile

    profile = load_profile("local")
    kwargs = dict(model=str(profile.path(profile.llm.model_source)), max_model_len=profile.llm.max_model_len,
                  max_num_seqs=profile.llm.max_num_seqs, enforce_eager=profile.llm.enforce_eager,
                  structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True})
    kwargs.update(overrides)
    started = time.perf_counter()
    llm = LLM(**kwargs)
    start_s = time.perf_counter() - started

    messages, params = [], []
    for row in load_prompts(prompts):
        canvas = canvas_for(row["platform"], row["format"])
        messages.append(build_messages(row["prompt"], canvas, "free"))
        schema = response_format(canvas, copy_for(row["prompt"]), "free")["json_schema"]["schema"]
        params.append(SamplingParams(max_tokens=max_tokens, temperature=0.7, seed=1,
                                     structured_outputs=StructuredOutputsParams(json=schema)))
    llm.chat(messages[:1], params[:1])  # first call compiles the grammar and warms the caches

    def timed(msgs, ps):
        t = time.perf_counter()
        outs = llm.chat(msgs, ps, use_tqdm=False)
        wall = time.perf_counter() - t
        tokens = sum(len(o.outputs[0].token_ids) for o in outs)
        return {"tokens": tokens, "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 1)}

    return {"engine_start_s": round(start_s, 1), "together": timed(messages, params), "alone": timed(messages[:1], params[:1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print("RESULT " + json.dumps(run_one(json.loads(args.child), args.prompts, args.max_tokens)), flush=True)
        return

    results: dict = {"prompts": args.prompts, "max_tokens": args.max_tokens}
    for name in args.settings:
        overrides, env = SETTINGS[name]
        print(f"{name}: {overrides} {env or ''} ...", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(overrides), "--prompts", str(args.prompts),
             "--max-tokens", str(args.max_tokens)],
            env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"), **env},
            capture_output=True, text=True, check=False,
        )
        line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{name} failed:\n{proc.stderr[-3000:]}")
        results[name] = {"engine_kwargs": overrides, "env": env, **json.loads(line[len("RESULT "):])}
        print(f"  {results[name]}", flush=True)
    base = args.settings[0]
    for name in args.settings[1:]:
        for mode in ("together", "alone"):
            results[f"ratio_{name}_vs_{base}_{mode}"] = round(
                results[name][mode]["tokens_per_s"] / results[base][mode]["tokens_per_s"], 2)
    record("vllm_cpu_settings", results)


if __name__ == "__main__":
    main()
