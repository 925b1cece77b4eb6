"""Score the brief reader on the development briefs, without a model: each brief's ad composed from its facts alone
(`engines.design.compose`), read as benchmarks/design_copy.py reads a served one.

    .venv/bin/python scripts/reader_dev.py                  # every dev brief, a summary per language
    .venv/bin/python scripts/reader_dev.py --lang de -v     # German only, every miss printed

Tune on data/design_dev only; data/design_eval stays unread.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from adgenesis.engines.design import NoLayout, compose, copy_for  # noqa: E402
from adgenesis.errors import Invalid  # noqa: E402
from adgenesis.paths import DATA_DIR  # noqa: E402
from adgenesis.schema import canvas_for  # noqa: E402
from design_copy import read_ad  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lang", nargs="*")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(line) for f in sorted((DATA_DIR / "design_dev").glob("*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        lang = row.get("language", "en")
        if args.lang and lang not in args.lang:
            continue
        t = totals[lang]
        t["briefs"] += 1
        try:
            copy = copy_for(row["prompt"])
            ad = read_ad(row, compose(canvas_for(row["platform"], row["format"]), copy))
        except (Invalid, NoLayout) as exc:
            t["refused"] += 1
            if args.verbose:
                print(f"[{lang}] REFUSED {exc}\n   {row['prompt']}")
            continue
        t["conditions"] += ad["conditions"]
        t["kept"] += ad["kept"]
        for key in ("from_brief", "cta_right", "passed", "in_language"):
            t[key] += ad[key]
        t["language_match"] += copy.language.used == lang
        if args.verbose and (ad["kept"] < ad["conditions"] or not ad["cta_right"] or not ad["passed"]
                             or not ad["in_language"]):
            print(f"[{lang}] kept {ad['kept']}/{ad['conditions']} cta_right={ad['cta_right']} "
                  f"passed={ad['passed']} in_language={ad['in_language']} intent={row['intent']}"
                  f"{row.get('intent_also', [])}\n   {row['prompt']}\n   conditions: {row['conditions']}")
            for role, text in ad["texts"]:
                print(f"     {role:10} {text}")
    for lang, t in sorted(totals.items()):
        n = t["briefs"] - t["refused"]
        print(f"{lang}: {int(t['briefs'])} briefs, refused {int(t['refused'])}, conditions_kept "
              f"{t['kept'] / max(1, t['conditions']):.3f}, cta_intent {t['cta_right'] / max(1, n):.3f}, "
              f"all_checks {t['passed'] / max(1, n):.3f}, in_language {t['in_language'] / max(1, n):.3f}, "
              f"from_brief {t['from_brief'] / max(1, n):.3f}, language_match {t['language_match'] / max(1, n):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
