"""Can a marketer publish the words? Every held-out brief through `POST /v1/designs`, its ad read as the customer's
lawyer would, with the path before the copy issue measured in the same run.

    python benchmarks/design_copy.py                                   # English held-out briefs (design_copy)
    python benchmarks/design_copy.py --baseline 23355b3                # and the path of that commit, same run
    python benchmarks/design_copy.py --languages en es de fr pt it     # per language (design_copy_languages)

The briefs are data/design_eval/ (written by hand apart from the training generator, each annotated with its offers'
conditions, verbatim, and its intent). One run:
1. the raw engine (`served_vs_raw.raw_variant`: a bare vLLM `AsyncLLM`, the same model, schema and seeds) decodes
   `--c1-briefs` briefs one at a time: the time the engine alone takes for the same tokens;
2. with `--baseline <commit>`, that commit's graph (its own code and models, in a git worktree) takes the same c1
   briefs and the first `--c8-briefs` at concurrency 8: today's path, the speed to compare with;
3. the local graph of this checkout takes the same c1 briefs one at a time (p50, served over raw) and every brief at
   concurrency 8 (layouts per minute, tokens per layout, and the words).

What is read off each ad (every text of the layout; the CTA against the language's labels):
- `answered`: a 2xx with a layout;
- `conditions_kept`: of the annotated conditions ("on orders over £35", "members only"), the share found verbatim
  (case and spaces aside) in the ad;
- `words_from_brief_or_vocabulary`: the share of ads every word of whose headline, lines and fine print is a word of
  the brief or of the language's vocabulary, and whose CTA is one of the language's labels or the brief's own;
- `cut_mid_phrase`: texts that end on a connector ("20% off all", "open 9 to") or on the start of a word of the brief;
- `cta_intent`: the share whose CTA is a label of the annotated intent (or an `intent_also`), or the brief's own;
- `all_checks`: the share passing every check of engines/quality.py, judged here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from adgenesis.engines.facts import read_brief  # noqa: E402
from adgenesis.engines.lexicon import lexicon  # noqa: E402
from adgenesis.engines.words import normal, words  # noqa: E402
from adgenesis.engines.quality import check  # noqa: E402
from adgenesis.paths import DATA_DIR, REPO_ROOT  # noqa: E402
from adgenesis.schema import Design  # noqa: E402
from results import percentiles, record  # noqa: E402

FILES = {"en": "heldout_briefs.jsonl", **{lang: f"heldout_{lang}.jsonl" for lang in ("es", "de", "fr", "pt", "it")}}
SEED = 1000  # brief i gets seed SEED + i on every path


def load(language: str) -> list[dict]:
    rows = [json.loads(line) for line in (DATA_DIR / "design_eval" / FILES[language]).read_text().splitlines()
            if line.strip()]
    return [r | {"language": r.get("language", language)} for r in rows]


def read_ad(row: dict, design: Design) -> dict:
    """The lawyer's reading of one ad (see the module's docstring)."""
    lex = lexicon(row["language"])
    facts = read_brief(row["prompt"], row["language"])
    texts = [el for el in design.elements if el.type == "text"]
    cta = next((el.text for el in texts if el.role == "cta"), "")
    copy = [el.text for el in texts if el.role != "cta"]
    said = normal(" ".join(el.text for el in texts))
    kept = sum(normal(c) in said for c in row["conditions"])
    brief_words = set(words(row["prompt"])) | {w for v in lex.vocabulary for w in words(v)}
    labels = {normal(label.label) for ls in lex.cta.values() for label in ls}
    own = normal(facts.cta_request.text) if facts.cta_request else None
    from_brief = all(w in brief_words for t in copy for w in words(t)) and (normal(cta) in labels or normal(cta) == own)
    connectors = {w.casefold() for lang in FILES for w in lexicon(lang).vocabulary}
    cut = 0
    for t in copy:
        last = (words(t) or [""])[-1]
        cut += last in connectors or (last not in brief_words and any(
            b.startswith(last) and b != last for b in words(row["prompt"])))
    fitting = {normal(label.label) for intent in (row["intent"], *row.get("intent_also", ()))
               for label in lex.cta.get(intent, ())}
    # In the brief's language: its CTA one of the language's labels (or the brief's own), every word the ad adds to
    # the brief's a word of the language's vocabulary.
    own_words = {w for v in lex.vocabulary for w in words(v)}
    added = {w for t in copy for w in words(t)} - set(words(row["prompt"]))
    in_language = (normal(cta) in labels or normal(cta) == own) and added <= own_words
    return {"conditions": len(row["conditions"]), "kept": kept, "from_brief": from_brief, "cut": cut,
            "cta_right": normal(cta) in fitting or normal(cta) == own, "passed": check(design, facts).passed,
            "in_language": in_language,
            "texts": [(el.role, el.text) for el in texts]}


def post(client: httpx.Client, row: dict, seed: int) -> dict:
    body = {k: row[k] for k in ("prompt", "platform", "format")} | {"seed": seed}
    t0 = time.perf_counter()
    r = client.post("/v1/designs", json=body)
    out = {"latency_s": time.perf_counter() - t0, "status": r.status_code}
    if r.status_code == 200:
        answer = r.json()
        out |= {"design": answer["designs"][0], "tokens": answer["usage"]["completion_tokens"],
                "composed": (answer.get("composed_from_facts") or [False])[0]}
    return out


def at_concurrency(client: httpx.Client, rows: list[dict], concurrency: int) -> tuple[list[dict], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        out = list(pool.map(lambda ir: post(client, ir[1], SEED + ir[0]), enumerate(rows)))
    return out, time.perf_counter() - started


def served(rows: list[dict], c1_rows: list[dict], url: str | None, profile: str = "local") -> dict:
    """This checkout's graph on `profile` (deployed on a fresh local Ray unless `url`): c1 latency, c8 throughput
    and words."""
    from contextlib import nullcontext

    from tools.local_cluster import deploy, local_ray, wait_ready

    def edit(cfg: dict) -> None:
        cfg["applications"][0]["args"]["profile"] = profile

    out: dict = {}
    with (nullcontext(None) if url else local_ray()) as cluster:
        if cluster is not None:
            url = deploy(cluster.dashboard, workdir=Path(tempfile.mkdtemp()), edit=edit)
            out["cold_start_s"] = round(wait_ready(url, cluster.dashboard), 1)
        with httpx.Client(base_url=url, timeout=900) as client:
            post(client, c1_rows[0], SEED - 1)  # warm-up: grammar compilation, caches
            out["c1"] = [post(client, row, SEED + i) | {"language": row["language"]} for i, row in enumerate(c1_rows)]
            out["c8"], out["c8_wall_s"], out["c8_wall_by_language"] = [], 0.0, {}
            for language in dict.fromkeys(r["language"] for r in rows):  # each language's briefs together
                group = [r for r in rows if r["language"] == language]
                answers, wall = at_concurrency(client, group, 8)
                out["c8"] += answers
                out["c8_wall_s"] += wall
                out["c8_wall_by_language"][language] = wall
    return out


def baseline(commit: str, c1_rows: list[dict], c8_rows: list[dict]) -> dict:
    """The graph of `commit` (its code and its own model folders, in a git worktree): the same c1 briefs and the
    first c8 briefs, through its own benchmarks/design_quality.py (which deploys it), in a process of its own."""
    tree = Path(tempfile.mkdtemp(prefix="adg-baseline-")) / "repo"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO_ROOT, check=True)
    try:
        (tree / ".venv").symlink_to(REPO_ROOT / ".venv")
        env = {**os.environ, "PYTHONPATH": str(tree)}  # its graph, not this checkout's editable install
        python = str(REPO_ROOT / ".venv" / "bin" / "python")
        subprocess.run([python, "-m", "tools.prepare_models"], cwd=tree, env=env, check=True)
        prompts = tree / "briefs.jsonl"
        prompts.write_text("".join(json.dumps({k: r[k] for k in ("prompt", "platform", "format")}) + "\n"
                                   for r in [*c1_rows, *c8_rows[len(c1_rows):]]))
        subprocess.run([python, "benchmarks/design_quality.py", "--prompts", str(prompts), "--configs", "default_brief",
                        "--latency-prompts", str(len(c1_rows))], cwd=tree, env=env, check=True)
        entry = json.loads((tree / "benchmarks" / "results.jsonl").read_text().splitlines()[-1])
        return entry["results"]["default_brief"] | {"commit": commit}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO_ROOT, check=False)


def quality(rows: list[dict], answers: list[dict]) -> dict:
    readings = [read_ad(row, Design.model_validate(a["design"])) if a["status"] == 200 else None
                for row, a in zip(rows, answers)]
    ok = [r for r in readings if r is not None]
    conditions = sum(r["conditions"] for r in ok) + sum(row["conditions"].__len__() for row, r in zip(rows, readings)
                                                        if r is None)
    return {
        "heldout_briefs": len(rows),
        "answered": round(len(ok) / len(rows), 3),
        "conditions_kept": round(sum(r["kept"] for r in ok) / max(1, conditions), 3),
        "conditions": conditions,
        "words_from_brief_or_vocabulary": round(sum(r["from_brief"] for r in ok) / len(rows), 3),
        "cut_mid_phrase": sum(r["cut"] for r in ok),
        "cta_intent": round(sum(r["cta_right"] for r in ok) / len(rows), 3),
        "language_match": round(sum(r["in_language"] for r in ok) / len(rows), 3),
        "all_checks": round(sum(r["passed"] for r in ok) / len(rows), 3),
        "composed_from_facts": round(sum(a.get("composed", False) for a in answers) / len(rows), 3),
        "tokens_per_layout": round(sum(a.get("tokens", 0) for a in answers) / max(1, len(ok)), 1),
        "misses": [{"prompt": row["prompt"], "texts": r["texts"]} for row, r in zip(rows, readings)
                   if r is not None and (r["kept"] < r["conditions"] or not r["from_brief"] or r["cut"]
                                         or not r["cta_right"] or not r["passed"])][:20],
    }


def summary(run: dict, rows: list[dict], languages: list[str], raw_p50: float | None) -> dict:
    """One deployment's figures: speed, and the words per language."""
    c1 = [a for a in run["c1"] if a["status"] == 200]
    p50 = round(percentiles([a["latency_s"] for a in c1])["p50"], 3)
    out = {"p50_s": p50, "layouts_per_min_c8": round(sum(a["status"] == 200 for a in run["c8"]) / run["c8_wall_s"] * 60, 1)}
    if raw_p50:
        out["served_over_raw"] = round(p50 / raw_p50, 2)
    out["languages"] = {}
    for lang in languages:
        answers = [a for r, a in zip(rows, run["c8"]) if r["language"] == lang]
        timed = [a["latency_s"] for a in run["c1"] if a["language"] == lang and a["status"] == 200]
        out["languages"][lang] = quality([r for r in rows if r["language"] == lang], answers) | {
            "p50_s": round(percentiles(timed)["p50"], 3) if timed else None,
            "layouts_per_min_c8": round(sum(a["status"] == 200 for a in answers)
                                        / run["c8_wall_by_language"][lang] * 60, 1)}
    return out


def save_ads(path: Path, rows: list[dict], run: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for row, answer in zip(rows, run["c8"]):
            reading = read_ad(row, Design.model_validate(answer["design"])) if answer["status"] == 200 else None
            out.write(json.dumps({"prompt": row["prompt"], "language": row["language"], "platform": row["platform"],
                                  "format": row["format"], "status": answer["status"],
                                  "composed": answer.get("composed"), "reading": reading}, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", nargs="+", default=["en"], choices=list(FILES))
    parser.add_argument("--c1-briefs", type=int, default=24, help="briefs timed one at a time (raw and served)")
    parser.add_argument("--c8-briefs", type=int, default=96, help="briefs the baseline takes at concurrency 8")
    parser.add_argument("--baseline", help="a commit whose path to measure in the same run (e.g. 23355b3)")
    parser.add_argument("--url", help="a running server instead of deploying the local graph")
    parser.add_argument("--profiles", nargs="+", default=["local"],
                        help="profiles (configs/<name>.yaml) whose models to compare, each deployed in turn")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw engine")
    parser.add_argument("--rows", type=int, default=0, help="only the first N briefs per language (0: all; a trial)")
    parser.add_argument("--save-ads", type=Path, help="write every ad (brief, texts, reading) as JSONL here, to read")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [r for lang in args.languages for r in load(lang)[: args.rows or None]]
    c1_rows = rows[:: max(1, len(rows) // args.c1_briefs)][: args.c1_briefs]
    results: dict = {"files": [FILES[lang] for lang in args.languages], "c1_briefs": len(c1_rows)}

    if not args.no_raw:
        from served_vs_raw import raw_variant  # the same engine arguments, chat, schema and seeds

        raw = raw_variant("profile", [{k: r[k] for k in ("prompt", "platform", "format")} for r in c1_rows],
                          Path(tempfile.mkdtemp()))
        results["raw_engine_p50_s"] = round(percentiles([b["engine_s"] for b in raw["briefs"]])["p50"], 3)
    if args.baseline:
        before = baseline(args.baseline, c1_rows, rows[: args.c8_briefs])
        results["before"] = {"commit": before["commit"], "p50_s": before["latency_c1_s"]["p50"],
                             "layouts_per_min_c8": before["layouts_per_min_c8"],
                             "tokens_per_layout": before["tokens_per_layout"], "all_checks": before["pass_rates"]["all"]}
    if args.languages == ["en"] and len(args.profiles) == 1:
        run = served(rows, c1_rows, args.url, args.profiles[0])
        results |= summary(run, rows, [], results.get("raw_engine_p50_s")) | quality(rows, run["c8"])
        results["cold_start_s"] = run.get("cold_start_s")
        if "before" in results:
            results["p50_over_before"] = round(results["p50_s"] / results["before"]["p50_s"], 2)
        if args.save_ads:
            save_ads(args.save_ads, rows, run)
        results.pop("languages", None)
        record("design_copy", results)
        return 0
    results["models"] = {}  # per language, per model: each deployed in turn, the same briefs
    for profile in args.profiles:
        run = served(rows, c1_rows, args.url, profile)
        # the raw engine runs the local profile's model: a ratio only for that profile
        raw_p50 = results.get("raw_engine_p50_s") if profile == "local" else None
        results["models"][profile] = summary(run, rows, args.languages, raw_p50) | {"cold_start_s": run.get("cold_start_s")}
        if args.save_ads:
            save_ads(args.save_ads.with_name(f"{args.save_ads.stem}-{profile}{args.save_ads.suffix}"), rows, run)
    record("design_copy_languages", results)
    if "en" in args.languages and "local" in results["models"]:
        record("design_copy", english_of(results, results["models"]["local"]))
    return 0


def english_of(results: dict, local: dict) -> dict:
    """The `design_copy` figures (English held-out briefs) of a per-language run of the local profile; p50 and c8
    are over the run's briefs of every language, one engine."""
    english = {k: v for k, v in local["languages"]["en"].items() if k not in ("p50_s", "layouts_per_min_c8")}
    out = {"files": [FILES["en"]], "same_run_as": "design_copy_languages",
           **{k: results[k] for k in ("c1_briefs", "raw_engine_p50_s", "before") if k in results},
           **{k: local[k] for k in ("p50_s", "layouts_per_min_c8", "served_over_raw", "cold_start_s") if k in local},
           **english}
    if "before" in results:
        out["p50_over_before"] = round(local["p50_s"] / results["before"]["p50_s"], 2)
    return out

if __name__ == "__main__":
    raise SystemExit(main())
