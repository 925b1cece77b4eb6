"""How often the brief's intent (what its CTA asks: shop, book, apply, ...) is read right, on the held-out briefs.

    python benchmarks/intent_reading.py            # seconds, no model; appends `intent_reading` to results.jsonl
    python benchmarks/intent_reading.py --misses   # and prints the blind half's misses

The CTA comes from the intent `engines/facts.py` reads (a brief's own CTA wins), so `design_copy`'s `cta_intent` is
this reading's accuracy. The briefs of data/design_eval/ are split by position: the even rows of each file (`dev`)
are the ones the intent vocabulary in configs/design/languages/ has been tuned on, the odd rows (`blind`) are not
read while tuning it. `blind` is the figure to believe; a change that lifts `dev` alone is fitted to those briefs.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adgenesis.engines.facts import read_brief  # noqa: E402
from design_copy import FILES, load  # noqa: E402
from results import record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="print the blind half's misses")
    args = parser.parse_args()
    right, total, misses = Counter(), Counter(), []
    for language in FILES:
        for i, row in enumerate(load(language)):
            half = "dev" if i % 2 == 0 else "blind"
            read = read_brief(row["prompt"], row["language"]).intent
            ok = read in {row["intent"], *row.get("intent_also", ())}
            for key in (half, f"{half}_{language}"):
                total[key] += 1
                right[key] += ok
            if not ok and half == "blind":
                misses.append(f"{language} read {read}, meant {row['intent']}: {row['prompt'][:110]}")
    results = {key: round(right[key] / total[key], 3) for key in sorted(total)} | {
        "briefs": total["dev"] + total["blind"], "all": round((right["dev"] + right["blind"]) /
                                                              (total["dev"] + total["blind"]), 3)}
    print({k: results[k] for k in ("briefs", "dev", "blind", "all")})
    if args.misses:
        print("\n".join(misses))
    record("intent_reading", results)


if __name__ == "__main__":
    main()
