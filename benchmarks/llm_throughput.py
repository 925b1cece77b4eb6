"""Design-layout throughput: HF transformers `generate` vs the Serve deployment (vLLM) over HTTP.

Free mode (the LLM writes the whole layout, ~300+ tokens): a decoding-throughput benchmark. What users get
by default (brief mode, quality checks) is measured by benchmarks/design_quality.py.

Same held-out prompts, same chat, same token budget (`--max-tokens`), at concurrency 1 and 8. The
deployment is called through its OpenAI route with the layout's JSON Schema as `response_format`
(what the design deployment sends); HF decodes unconstrained. Writes tokens/s, p50/p95 latency,
schema-validity rate and the vLLM/HF ratios to benchmarks/results.jsonl, after every phase.

    python benchmarks/llm_throughput.py                 # starts a local cluster + the local graph
    python benchmarks/llm_throughput.py --url http://127.0.0.1:8000   # against a running `make serve`
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from adgenesis.engines.design import LayoutError, build_messages, copy_for, finish, response_format  # noqa: E402
from adgenesis.paths import DATA_DIR  # noqa: E402
from adgenesis.schema import canvas_for  # noqa: E402
from adgenesis.settings import load_profile  # noqa: E402
from results import percentiles, record  # noqa: E402


def load_prompts(count: int) -> list[dict]:
    rows = [json.loads(l) for l in (DATA_DIR / "design_sft" / "validation.jsonl").read_text().splitlines()]
    # Spread over platforms/formats rather than taking the first few of one kind.
    rows.sort(key=lambda r: (r["platform"], r["format"]))
    step = max(1, len(rows) // count)
    return rows[::step][:count]


def summarize(latencies: list[float], tokens: int, valid: int, wall: float, n: int) -> dict:
    return {"requests": n, "tokens": tokens, "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 2),
            "latency_s": {k: round(v, 2) for k, v in percentiles(latencies).items()}, "valid_rate": valid / n}


def bench_hf(model_dir: Path, rows: list[dict], max_tokens: int, concurrency: int, temperature: float) -> dict:
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()  # fp32 is faster on CPU
    latencies, tokens, valid = [], 0, 0
    start = time.perf_counter()
    for i in range(0, len(rows), concurrency):
        batch = rows[i : i + concurrency]
        canvases = [canvas_for(r["platform"], r["format"]) for r in batch]
        chats = [tok.apply_chat_template(build_messages(r["prompt"], c, "free"), tokenize=False, add_generation_prompt=True)
                 for r, c in zip(batch, canvases)]
        enc = tok(chats, return_tensors="pt", padding=True)
        torch.manual_seed(i)
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=True, temperature=temperature,
                                 pad_token_id=tok.pad_token_id)
        elapsed = time.perf_counter() - t0
        new = out[:, enc["input_ids"].shape[1]:]
        for row_tokens, canvas, row_prompt in zip(new, canvases, [r["prompt"] for r in batch]):
            n_tokens = int((row_tokens != tok.pad_token_id).sum())
            tokens += n_tokens
            latencies.append(elapsed)  # every request in a batch waits for the whole batch
            try:
                finish(tok.decode(row_tokens, skip_special_tokens=True), canvas, copy_for(row_prompt), "free",
                       "length" if n_tokens >= max_tokens else "stop")
                valid += 1
            except LayoutError:
                pass
    return summarize(latencies, tokens, valid, time.perf_counter() - start, len(rows))


def bench_http(url: str, model: str, rows: list[dict], max_tokens: int, concurrency: int, temperature: float) -> dict:
    def one(item):
        i, row = item
        canvas = canvas_for(row["platform"], row["format"])
        t0 = time.perf_counter()
        r = httpx.post(f"{url}/v1/chat/completions", timeout=900, json={
            "model": model, "messages": build_messages(row["prompt"], canvas, "free"), "max_tokens": max_tokens,
            "response_format": response_format(canvas, copy_for(row["prompt"]), "free"), "temperature": temperature,
            "seed": i})
        elapsed = time.perf_counter() - t0
        choice = r.json()["choices"][0]
        try:
            finish(choice["message"]["content"] or "", canvas, copy_for(row["prompt"]), "free", choice["finish_reason"])
            valid = True
        except LayoutError:
            valid = False
        return elapsed, valid, r.json()["usage"]["completion_tokens"]

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, enumerate(rows)))
    return summarize([r[0] for r in results], sum(r[2] for r in results), sum(r[1] for r in results),
                     time.perf_counter() - start, len(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running graph; default: start a local cluster and deploy the local graph")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--profile", default="local")
    parser.add_argument("--max-tokens", type=int, default=400, help="budget per layout, the same for both")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    profile = load_profile(args.profile)
    rows = load_prompts(args.prompts)
    max_tokens = args.max_tokens
    results: dict = {"prompts": len(rows), "max_tokens": max_tokens, "complete": False}

    try:
        with ExitStack() as stack:
            url = args.url
            if url is None:
                from tools.local_cluster import deploy, local_ray, wait_ready

                dashboard = stack.enter_context(local_ray()).dashboard
                url = deploy(dashboard)
                results["cold_start_s"] = round(wait_ready(url, dashboard), 1)
            # The server is idle while HF runs, and the other way round: measure one at a time.
            for c in (1, 8):
                print(f"vLLM deployment over HTTP, concurrency {c} ...", flush=True)
                results[f"serve_c{c}"] = bench_http(url, profile.llm.model_id, rows, max_tokens, c, profile.llm.temperature)
                print(results[f"serve_c{c}"], flush=True)
        model_dir = profile.path(profile.llm.model_source)
        for c in (1, 8):
            print(f"HF transformers generate, batch {c} ...", flush=True)
            results[f"hf_c{c}"] = bench_hf(model_dir, rows, max_tokens, c, profile.llm.temperature)
            print(results[f"hf_c{c}"], flush=True)
        results["complete"] = True
        for c in (1, 8):
            results[f"ratio_tokens_per_s_c{c}"] = round(
                results[f"serve_c{c}"]["tokens_per_s"] / max(results[f"hf_c{c}"]["tokens_per_s"], 1e-9), 2)
    finally:  # a run cut short still leaves the phases it finished
        record("llm_throughput", results)


if __name__ == "__main__":
    main()
