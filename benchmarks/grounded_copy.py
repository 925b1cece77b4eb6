"""Can a marketer publish the words? Ad copy judged as the customer's lawyer would, on briefs the model never saw.

    python benchmarks/grounded_copy.py --before-model /path/to/old/design-llm   # ~15 min on 2 cores

Every brief of data/design_eval/heldout_briefs.jsonl (written by hand apart from the training generator) gets one
layout per configuration, on the local profile's engine settings (a `vllm.LLM` of its own: no Serve, so the
numbers are the model's and the design path's, not the graph's):

- `before`: the model given as `--before-model` (the design adapter as shipped before the grounded-copy work),
  decoded under the plain brief schema, its brief laid out as it came: the design path as it was.
- `before_model_now`: the same model through today's path (digits held to the request's numbers while decoding,
  `copy.ground` and `copy.lead_with_offer` after, one retry with another seed when a check is missed).
- `now`: the served model (`llm.model_source`) through today's path: what `POST /v1/designs` returns.

Reported per configuration, on every brief: the pass rate of each quality check (`grounded`: no number, price,
date, code or brand the brief did not give, and no offer restated with its condition dropped; `offer`: the brief's
offer stated in the headline or supporting line; `copy`: no leaked label, doubled word, cut word or CTA that asks
for something else) and of all together, briefs with no valid layout, and the offer rate over the briefs that
carry one. Numbers go to benchmarks/results.jsonl with the machine and commit.
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

PROMPTS = "design_eval/heldout_briefs.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-model", type=Path, default=None, help="the model folder before (skipped if absent)")
    parser.add_argument("--rows", type=int, default=0, help="only the first N briefs (0: all)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--only", choices=("before", "before_model_now", "now"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only is None:  # one engine per process: vLLM does not hand a CPU engine's memory back within one
        configs = ["before", "before_model_now", "now"] if args.before_model and args.before_model.is_dir() else ["now"]
        for name in configs:
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--only", name], check=True)
        return

    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from adgenesis.engines.design import RETRIES, SEED_STEP, LayoutError, build_messages, finish, response_format
    from adgenesis.engines.quality import CHECKS, check, summarize
    from adgenesis.paths import DATA_DIR
    from adgenesis.schema import canvas_for
    from adgenesis.settings import load_profile
    from adgenesis.engines.vllm_setup import engine_setup
    from results import record

    profile = load_profile("local")
    settings = profile.llm
    engine_kwargs, env = engine_setup(settings.model_copy(update={"lora_dir": None}))  # the served engine's settings
    os.environ.update(env)
    rows = [json.loads(line) for line in (DATA_DIR / PROMPTS).read_text().splitlines()]
    rows = rows[: args.rows] if args.rows else rows
    canvases = [canvas_for(r["platform"], r["format"]) for r in rows]
    messages = [build_messages(r["prompt"], c) for r, c in zip(rows, canvases)]

    def generate(llm, grounded: bool, todo: list[int], attempt: int) -> dict[int, tuple[str, str | None]]:
        params = [SamplingParams(
            max_tokens=settings.brief_max_tokens, temperature=settings.temperature,
            seed=args.seed + i + attempt * SEED_STEP, structured_outputs=StructuredOutputsParams(
                json=response_format(canvases[i], "brief", rows[i]["prompt"] if grounded else None)
                ["json_schema"]["schema"])) for i in todo]
        outputs = llm.chat([messages[i] for i in todo], params, use_tqdm=True)
        return {i: (o.outputs[0].text, o.outputs[0].finish_reason) for i, o in zip(todo, outputs)}

    def run(name: str, model: Path, grounded: bool) -> None:
        started = time.perf_counter()
        llm = LLM(model=str(model), **engine_kwargs)
        reports: dict[int, object] = {}
        invalid, todo = set(range(len(rows))), list(range(len(rows)))
        # The design path's retry (engines.design.make_layouts): a layout that misses a check, or none, asks again.
        for attempt in range(1 + (RETRIES if grounded else 0)):
            for i, (text, reason) in generate(llm, grounded, todo, attempt).items():
                try:
                    design = finish(text, canvases[i], "brief", reason, args.seed + i + attempt,
                                    rows[i]["prompt"] if grounded else None).design
                except LayoutError:
                    continue
                report = check(design, rows[i]["prompt"])
                if i not in reports or report.passed:
                    reports[i] = report
                invalid.discard(i)
            todo = [i for i in range(len(rows)) if i not in reports or not reports[i].passed]
        done = [reports.get(i) for i in range(len(rows))]
        judged = [r for r in done if r is not None]
        rates = summarize(judged)
        n = len(rows)
        with_offer = [i for i, r in enumerate(rows) if r["offer"]]
        result = {
            "config": name, "model": str(model.name), "briefs": n, "no_valid_layout": len(invalid),
            # over every brief: a brief with no layout counts as failing every check
            **{f"pass_{k}": round(rates[k] * len(judged) / n, 3) for k in ("all", *CHECKS)},
            "offer_stated_where_given": round(sum(1 for i in with_offer if done[i] is not None
                                                  and done[i].checks["offer"]) / len(with_offer), 3),
            "briefs_with_offer": len(with_offer), "seconds": round(time.perf_counter() - started, 1),
            "prompts": PROMPTS,
        }
        print(json.dumps(result))
        record("grounded_copy", result)

    model = profile.path(settings.model_source) if args.only == "now" else args.before_model
    run(args.only, model, grounded=args.only != "before")


if __name__ == "__main__":
    main()
