"""The WCAG 2 colour maths of the core (adgenesis/colors.py), which the engine's checks and the brand kits share."""

from __future__ import annotations

import pytest

from adgenesis import colors
from adgenesis.engines import layout, quality, render


def test_wcag_contrast_ratios():
    assert colors.contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert colors.contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    # WCAG's own example: #777777 on white is just under 4.5:1
    assert colors.contrast_ratio(colors.rgb("#777777"), colors.rgb("#FFFFFF")) == pytest.approx(4.48, abs=0.01)
    assert colors.rgb("#0a1B2c") == (10, 27, 44)


def test_the_engine_uses_the_same_maths():
    # the layout picks its inks, the renderer paints and the checks judge with one copy of each
    assert layout.contrast_ratio is colors.contrast_ratio and layout.rgb is render.rgb is quality.rgb is colors.rgb
    assert quality.contrast_under is colors.contrast_under
