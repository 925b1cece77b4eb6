"""Build each model engine on one device, run one inference each, and write timings as JSON.

Imports no Ray, so it runs on a bare GPU machine that has only torch/transformers/diffusers/peft:

    python benchmarks/engines_gpu_check.py --device cuda --out runs/engines_gpu_check.json
    python benchmarks/engines_gpu_check.py --device cpu            # the same check on CPU

On CUDA, FLUX and BLIP run in bfloat16 (override with --dtype). The model folders come from the
profile (`configs/local.yaml` by default: the tiny offline models, so the check needs no hub access).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout, not installed

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from adgenesis.engines.captioner import CaptionerEngine  # noqa: E402
from adgenesis.engines.classifier import ClassifierEngine  # noqa: E402
from adgenesis.engines.image_gen import ImageGenEngine  # noqa: E402
from adgenesis.settings import load_profile  # noqa: E402

ROUTER_PROMPTS = [
    "Make a square Instagram ad layout for our summer sneaker sale",
    "Generate a photo of a red sneaker on a beach at sunset",
    "What ad formats work best on TikTok?",
    "Design a LinkedIn banner announcing our new analytics product",
]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(device: str, fn):
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return out, round(time.perf_counter() - start, 4)


def check_classifier(profile, device: str) -> dict:
    settings = profile.classifier.model_copy(update={"device": device})
    engine, load_s = _timed(device, lambda: ClassifierEngine(settings))
    _, first_s = _timed(device, lambda: engine.classify(ROUTER_PROMPTS[:1]))  # includes kernel warm-up
    results, batch_s = _timed(device, lambda: engine.classify(ROUTER_PROMPTS))
    return {
        "load_s": load_s,
        "first_call_s": first_s,
        f"batch_{len(ROUTER_PROMPTS)}_s": batch_s,
        "model_version": engine.version,
        "labels": [r.label for r in results],
        "confidences": [round(r.confidence, 4) for r in results],
    }


def check_image_gen(profile, device: str, dtype: str, size: str | None, steps: int | None) -> dict:
    settings = profile.image_gen.model_copy(update={"device": device, "dtype": dtype})
    engine, load_s = _timed(device, lambda: ImageGenEngine(settings))
    width, height = engine.size_for(size)
    steps = steps or settings.default_steps
    run = lambda seed: engine.generate("a red sneaker on a beach, product photo", width=width, height=height,  # noqa: E731
                                       steps=steps, seed=seed)
    first, first_s = _timed(device, lambda: run(0))
    again, second_s = _timed(device, lambda: run(0))
    return {
        "load_s": load_s,
        "first_image_s": first_s,
        "second_image_s": second_s,
        "width": width,
        "height": height,
        "steps": steps,
        "dtype": str(engine.dtype),
        "same_seed_same_pixels": first.tobytes() == again.tobytes(),
    }


def check_captioner(profile, device: str, dtype: str) -> dict:
    settings = profile.captioner.model_copy(update={"device": device, "dtype": dtype})
    engine, load_s = _timed(device, lambda: CaptionerEngine(settings))
    images = [Image.new("RGB", (384, 384), (220, 40, 40)), Image.new("RGB", (640, 480), (30, 90, 200))]
    _, first_s = _timed(device, lambda: engine.caption(images[:1]))
    captions, batch_s = _timed(device, lambda: engine.caption(images))
    return {"load_s": load_s, "first_call_s": first_s, "batch_2_s": batch_s, "dtype": str(engine.dtype),
            "captions": captions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="local")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], default=None,
                        help="FLUX/BLIP dtype; default bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--size", default=None, help="image size preset from the profile (default: square)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", default="runs/engines_gpu_check.json")
    args = parser.parse_args(argv)
    dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")

    profile = load_profile(args.profile)
    report: dict = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu",
        "dtype": dtype,
        "profile": profile.name,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "engines": {},
    }
    checks = {
        "classifier": lambda: check_classifier(profile, args.device),
        "image_gen": lambda: check_image_gen(profile, args.device, dtype, args.size, args.steps),
        "captioner": lambda: check_captioner(profile, args.device, dtype),
    }
    ok = True
    for name, check in checks.items():
        try:
            report["engines"][name] = {"ok": True, **check()}
        except Exception as exc:  # one failing engine should not hide the others' results
            ok = False
            report["engines"][name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                       "traceback": traceback.format_exc(limit=5)}
        if args.device.startswith("cuda"):
            report["engines"][name]["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
            torch.cuda.reset_peak_memory_stats()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
