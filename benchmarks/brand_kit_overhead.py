"""What drawing with a brand kit adds to a design: the same held-out briefs, on their own canvases, laid out and checked
with a kit and without, in one run (record `brand_kit_overhead`).

Measured on the design replica's own work for a request (engines/design.py `DesignModels.plan` with the kit's files
opened, the layout composed from the facts, every quality check, `on_brand` with the kit), without the LLM: its
decoding is the same tokens with a kit or without, so this is the overhead's upper bound as a ratio. Issue 36's
goal: p50 within 1.1x.

    .venv/bin/python benchmarks/brand_kit_overhead.py [--briefs 120]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from adgenesis.brand import BrandKit, KitColor, KitFont  # noqa: E402
from adgenesis.engines.design import DesignModels, compose  # noqa: E402
from adgenesis.engines.quality import check  # noqa: E402
from adgenesis.paths import DATA_DIR  # noqa: E402
from adgenesis.protocol import DesignRequest  # noqa: E402
from adgenesis.settings import StoreSettings, load_profile  # noqa: E402

from results import percentiles, record  # noqa: E402

PALETTE = (("#FFFFFF", "background"), ("#1A1A1A", "text"), ("#0B5FFF", "accent"), ("#C8102E", "button"),
           ("#FFFFFF", "button_text"))


def a_kit(settings: StoreSettings) -> BrandKit:
    buf = io.BytesIO()
    Image.new("RGB", (480, 160), "#C8102E").save(buf, format="PNG")
    logo = buf.getvalue()
    name = f"{hashlib.sha256(logo).hexdigest()}.png"
    Path(settings.uploads_dir).mkdir(parents=True, exist_ok=True)
    (Path(settings.uploads_dir) / name).write_bytes(logo)
    return BrandKit(id="kit_" + "0" * 24, workspace="bench", name="Bench", version=1,
                    palette=tuple(KitColor(hex=h, role=r) for h, r in PALETTE),
                    headline_font=KitFont(family="Oswald"), body_font=KitFont(family="Lato"), logo=name,
                    voice_words=("fearless",), banned_words=("cheap",), disclaimer="Bench Ltd. Terms apply.")


def one(models: DesignModels, req: DesignRequest, kit: BrandKit | None) -> tuple[float, bool]:
    start = time.perf_counter()
    plan = models.plan(req, kit)
    design = compose(plan.canvas, plan.copy, plan.seed)
    report = check(design, plan.copy.facts, look=plan.copy.look)
    return time.perf_counter() - start, report.passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs", type=int, default=120)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (DATA_DIR / "design_eval" / "heldout_briefs.jsonl").read_text().splitlines()
            if line.strip()][:args.briefs]
    with tempfile.TemporaryDirectory() as tmp:
        settings = StoreSettings(uploads_dir=str(Path(tmp) / "uploads"))
        models, kit = DesignModels(load_profile("local").llm, settings), a_kit(settings)
        requests = [DesignRequest(prompt=r["prompt"], platform=r["platform"], format=r["format"], seed=i)
                    for i, r in enumerate(rows)]
        for req in requests[:5]:  # fonts and caches warm on both paths before anything is timed
            one(models, req, None), one(models, req, kit)
        timed = {"without": [], "with": []}
        passed = {"without": 0, "with": 0}
        for req in requests:  # alternating, so a slower stretch of the host weighs on both alike
            for side, k in (("without", None), ("with", kit)):
                took, ok = one(models, req, k)
                timed[side].append(took)
                passed[side] += ok
    p = {side: percentiles(values) for side, values in timed.items()}
    record("brand_kit_overhead", {
        "briefs": len(requests), "what": "plan + compose + check per request, no LLM",
        "p50_ms_without": round(1000 * p["without"]["p50"], 2), "p50_ms_with": round(1000 * p["with"]["p50"], 2),
        "p95_ms_without": round(1000 * p["without"]["p95"], 2), "p95_ms_with": round(1000 * p["with"]["p95"], 2),
        "p50_ratio": round(p["with"]["p50"] / p["without"]["p50"], 3),
        "passed_without": passed["without"] / len(requests), "passed_with": passed["with"] / len(requests),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
