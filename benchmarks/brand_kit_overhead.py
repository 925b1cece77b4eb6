"""What drawing with a brand kit adds to a design: the same held-out briefs, on their own canvases, with a kit and
without, in one run (record `brand_kit_overhead`). Issue 36's goal: served p50 within 1.1x.

- engine (default): the design replica's own work for a request (engines/design.py `DesignModels.plan` with the
  kit's files opened, the layout composed from the facts, every check, `on_brand` with the kit), no LLM.
- `--served`: this checkout's local graph deployed on a fresh local Ray, a kit made over its API (a logo uploaded),
  and each brief asked for at concurrency 1, with the kit and without, alternating.

    .venv/bin/python benchmarks/brand_kit_overhead.py [--briefs 120] [--served --served-briefs 24]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from adgenesis.brand import BrandKit, KitColor, KitFont  # noqa: E402
from adgenesis.checksum import bytes_sha256  # noqa: E402
from adgenesis.engines.design import DesignModels, compose  # noqa: E402
from adgenesis.engines.kit import look_of  # noqa: E402
from adgenesis.engines.quality import check  # noqa: E402
from adgenesis.paths import DATA_DIR  # noqa: E402
from adgenesis.protocol import DesignRequest  # noqa: E402
from adgenesis.settings import StoreSettings, load_profile  # noqa: E402

from results import percentiles, record  # noqa: E402

PALETTE = (("#FFFFFF", "background"), ("#1A1A1A", "text"), ("#0B5FFF", "accent"), ("#C8102E", "button"),
           ("#FFFFFF", "button_text"))


def logo_png() -> bytes:
    """A red mark on a white border (the store trims the border of an upload)."""
    buf = io.BytesIO()
    logo = Image.new("RGB", (480, 160), "white")
    logo.paste((200, 16, 46), (20, 20, 460, 140))
    logo.save(buf, format="PNG")
    return buf.getvalue()


def a_kit(settings: StoreSettings) -> BrandKit:
    logo = logo_png()
    name = f"{bytes_sha256(logo)}.png"
    Path(settings.uploads_dir).mkdir(parents=True, exist_ok=True)
    (Path(settings.uploads_dir) / name).write_bytes(logo)
    return BrandKit(id="kit_" + "0" * 24, workspace="bench", name="Bench", version=1,
                    palette=tuple(KitColor(hex=h, role=r) for h, r in PALETTE),
                    headline_font=KitFont(family="Oswald"), body_font=KitFont(family="Lato"), logo=name,
                    voice_words=("fearless",), banned_words=("cheap",), disclaimer="Bench Ltd. Terms apply.")


def one(models: DesignModels, req: DesignRequest, kit: BrandKit | None, settings: StoreSettings) -> tuple[float, bool]:
    start = time.perf_counter()
    plan = models.plan(req, look_of(kit, settings) if kit is not None else None)
    design = compose(plan.canvas, plan.copy, plan.seed)
    report = check(design, plan.copy.facts, look=plan.copy.look)
    return time.perf_counter() - start, report.passed


def served(rows: list[dict]) -> dict:
    """p50 of /v1/designs with the kit and without, on a graph of its own."""
    import secrets

    import httpx

    from tools.local_cluster import deploy, local_ray, wait_ready

    key, runs = secrets.token_urlsafe(16), tempfile.mkdtemp()

    def edit(cfg: dict) -> None:
        cfg["applications"][0]["runtime_env"]["env_vars"].update({"ADGENESIS_API_KEY": key, "ADGENESIS_RUNS_DIR": runs})

    admin = {"Authorization": f"Bearer {key}"}
    with local_ray() as cluster:
        url = deploy(cluster.dashboard, workdir=Path(tempfile.mkdtemp()), edit=edit)
        cold = wait_ready(url, cluster.dashboard)
        with httpx.Client(base_url=url, timeout=900) as client:
            body = {"name": "Bench", "workspace": "bench", "palette": [{"hex": h, "role": r} for h, r in PALETTE],
                    "headline_font": {"family": "Oswald"}, "body_font": {"family": "Lato"},
                    "disclaimer": "Bench Ltd. Terms apply."}
            client.post("/v1/keys", json={"workspace": "bench"}, headers=admin).raise_for_status()  # makes it
            kit_id = client.post("/v1/brand-kits", json=body, headers=admin).raise_for_status().json()["kit"]["id"]
            client.post(f"/v1/brand-kits/{kit_id}/logo", files={"file": ("logo.png", logo_png(), "image/png")},
                        headers=admin).raise_for_status()
            timed, on_brand = {"without": [], "with": []}, 0
            for i, row in enumerate(rows):
                ask = {k: row[k] for k in ("prompt", "platform", "format")} | {"seed": i}
                for side, extra in (("without", {}), ("with", {"brand_kit": kit_id})):
                    start = time.perf_counter()
                    r = client.post("/v1/designs", json=ask | extra, headers=admin)
                    took = time.perf_counter() - start
                    if i:  # the first brief warms both paths (grammar compilation, fonts)
                        timed[side].append(took)
                    on_brand += side == "with" and r.json()["quality"][0]["checks"].get("on_brand", False)
    p = {side: percentiles(values)["p50"] for side, values in timed.items()}
    return {"served_briefs": len(rows) - 1, "cold_start_s": round(cold, 1), "served_p50_s_without": round(p["without"], 3),
            "served_p50_s_with": round(p["with"], 3), "served_p50_ratio": round(p["with"] / p["without"], 3),
            "served_on_brand": on_brand / len(rows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs", type=int, default=120)
    parser.add_argument("--served", action="store_true", help="also over HTTP on a deployed local graph")
    parser.add_argument("--served-briefs", type=int, default=24)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (DATA_DIR / "design_eval" / "heldout_briefs.jsonl").read_text().splitlines()
            if line.strip()][:args.briefs]
    with tempfile.TemporaryDirectory() as tmp:
        settings = StoreSettings(uploads_dir=str(Path(tmp) / "uploads"))
        models, kit = DesignModels(load_profile("local").llm), a_kit(settings)
        requests = [DesignRequest(prompt=r["prompt"], platform=r["platform"], format=r["format"], seed=i)
                    for i, r in enumerate(rows)]
        for req in requests[:5]:  # fonts and caches warm on both paths before anything is timed
            one(models, req, None, settings), one(models, req, kit, settings)
        timed = {"without": [], "with": []}
        passed = {"without": 0, "with": 0}
        for req in requests:  # alternating, so a slower stretch of the host weighs on both alike
            for side, k in (("without", None), ("with", kit)):
                took, ok = one(models, req, k, settings)
                timed[side].append(took)
                passed[side] += ok
    p = {side: percentiles(values) for side, values in timed.items()}
    extra = served(rows[:args.served_briefs]) if args.served else {}
    record("brand_kit_overhead", extra | {
        "briefs": len(requests), "what": "plan + compose + check per request, no LLM",
        "p50_ms_without": round(1000 * p["without"]["p50"], 2), "p50_ms_with": round(1000 * p["with"]["p50"], 2),
        "p95_ms_without": round(1000 * p["without"]["p95"], 2), "p95_ms_with": round(1000 * p["with"]["p95"], 2),
        "p50_ratio": round(p["with"]["p50"] / p["without"]["p50"], 3),
        "passed_without": passed["without"] / len(requests), "passed_with": passed["with"] / len(requests),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
