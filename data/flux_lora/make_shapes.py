"""Regenerate the bundled FLUX LoRA image set: `python data/flux_lora/make_shapes.py` (deterministic).

36 PNGs of 64x64 pixels: six shapes in six colours, all in one "house style" (a cream card with a
thick navy frame), which is what the LoRA learns to tie to the trigger word. Every sixth image has no
caption file on purpose: the recipe captions those with the captioner engine.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "shapes"
SIZE = 64
BACKGROUND = (244, 239, 230)   # cream
FRAME = (27, 42, 73)           # navy
COLOURS = {"red": (214, 40, 40), "orange": (247, 127, 0), "yellow": (240, 200, 30),
           "green": (42, 157, 80), "blue": (30, 110, 220), "purple": (130, 60, 170)}
SHAPES = ("circle", "square", "triangle", "diamond", "ring", "star")


def draw_shape(d: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill) -> None:
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(3, int(r / 3)))
    elif shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=fill)
    elif shape == "diamond":
        d.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    elif shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        d.polygon(pts, fill=fill)


def main() -> None:
    rng = random.Random(0)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    i = 0
    for shape in SHAPES:
        for colour, rgb in COLOURS.items():
            img = Image.new("RGB", (SIZE, SIZE), FRAME)
            d = ImageDraw.Draw(img)
            d.rectangle([6, 6, SIZE - 7, SIZE - 7], fill=BACKGROUND)
            r = rng.uniform(12, 18)
            cx, cy = SIZE / 2 + rng.uniform(-5, 5), SIZE / 2 + rng.uniform(-5, 5)
            draw_shape(d, shape, cx, cy, r, rgb)
            name = f"{i:02d}_{colour}_{shape}"
            img.save(OUT / f"{name}.png", optimize=True)
            if i % 6 != 5:
                (OUT / f"{name}.txt").write_text(f"a {colour} {shape} on a cream card with a navy frame\n")
            i += 1


if __name__ == "__main__":
    main()
