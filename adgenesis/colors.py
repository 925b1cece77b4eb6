"""Colours as WCAG 2 judges them: relative luminance and the contrast ratio of two sRGB colours.

The core's, so that a brand kit is checked for legible pairs when it is saved (adgenesis/store/checks.py) with the
same maths the layout engine picks its inks by and the quality checks judge the rendered pixels with."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

RGB = tuple[int, int, int]

# sRGB 8-bit -> linear light, per WCAG 2's relative luminance definition.
_c = np.arange(256) / 255.0
LINEAR = np.where(_c <= 0.04045, _c / 12.92, ((_c + 0.055) / 1.055) ** 2.4)
LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])  # red, green, blue


def rgb(color: str) -> RGB:
    """`#RRGGBB` -> (r, g, b)."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def luminance(color: RGB) -> float:
    r, g, b = (LINEAR[c] for c in color)
    return float(LUMINANCE_WEIGHTS[0] * r + LUMINANCE_WEIGHTS[1] * g + LUMINANCE_WEIGHTS[2] * b)


def contrast_ratio(a: RGB, b: RGB) -> float:
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


_MAX_SAMPLES = 65536  # a regular subsample of a big crop judges it as well, far faster


def contrast_under(color: tuple[int, int, int], under: Image.Image) -> float:
    """Contrast of text in `color` against the pixels under it: the ratio that 90% of those pixels reach.

    On a flat colour that is exactly the colour's ratio; over a busy picture, the worst tenth decides, so text
    fails unless nearly all of what lies under it contrasts (a few dark pixels in a light photo do not fail it).
    """
    px = np.asarray(under.convert("RGB"))
    step = max(1, math.ceil(math.sqrt(px.shape[0] * px.shape[1] / _MAX_SAMPLES)))
    px = px[::step, ::step].reshape(-1, 3)
    lum = LINEAR[px] @ LUMINANCE_WEIGHTS
    lt = luminance(color)
    ratios = (np.maximum(lum, lt) + 0.05) / (np.minimum(lum, lt) + 0.05)
    return float(np.quantile(ratios, 0.1, method="lower"))
