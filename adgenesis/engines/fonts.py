"""Real font metrics: the one place that loads the schema's font families and measures and wraps text.

The layout engine sizes text with these numbers, the renderer draws with the same fonts, and the quality
checks measure with them, so "it fits" means the same thing in all three. The TTF files come from PyPI's
`fontpkg-*` packages (dependencies of this project), never from the network at run time.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import fontpkg.pil
from PIL import ImageFont

from adgenesis.schema import FONT_FAMILIES

LINE_HEIGHT = 1.2  # line pitch as a multiple of the font size, for every family
WEIGHTS = {"regular": 400, "bold": 700}
# A brand kit's uploaded fonts, by their content-hash file name (a layout's `font_family` for them): the process that
# lays out or draws with a kit opens its files first (engines/kit.py `look_of`). Content-named, so never stale.
_UPLOADED: dict[str, Path] = {}


def use_uploaded(name: str, path: Path) -> None:
    """Measure and draw the family `name` (an uploaded font's file name) with the file at `path`."""
    _UPLOADED[name] = path


@lru_cache(maxsize=512)
def font(family: str, size: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    if family in _UPLOADED:  # one file, one weight: bold draws it as it is, as Bebas Neue's does
        return ImageFont.truetype(str(_UPLOADED[family]), size)
    if family not in FONT_FAMILIES:
        raise ValueError(f"unknown font family {family!r}; known: {list(FONT_FAMILIES)} and the brand kits' opened")
    # nearest: Bebas Neue ships one weight; a bold request draws it as it is rather than failing.
    return fontpkg.pil.truetype(family, size, weight=WEIGHTS[weight], nearest=True)


def text_width(text: str, family: str, size: int, weight: str = "regular") -> float:
    return font(family, size, weight).getlength(text)


def line_pitch(size: int) -> int:
    return math.ceil(size * LINE_HEIGHT)


def block_height(n_lines: int, size: int) -> int:
    """Height of `n_lines` wrapped lines: full pitch between lines, the last one only its font size."""
    return 0 if n_lines == 0 else line_pitch(size) * (n_lines - 1) + math.ceil(size * 1.1)


@lru_cache(maxsize=4096)
def wrap(text: str, family: str, size: int, weight: str, width: float) -> tuple[str, ...] | None:
    """Greedy word wrap at `width` pixels with the real glyph advances; None if one word is wider."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, family, size, weight) <= width:
            current = candidate
            continue
        if not current or text_width(word, family, size, weight) > width:
            return None
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    return tuple(lines)


def fits(text: str, family: str, size: int, weight: str, width: float, height: float) -> bool:
    """Whether `text` at this font, wrapped to `width`, stays within `height`."""
    lines = wrap(text, family, size, weight, width)
    return lines is not None and block_height(len(lines), size) <= height


def fit_size(text: str, family: str, weight: str, width: float, height: float, max_size: int, min_size: int,
             max_lines: int = 4) -> tuple[int, int] | None:
    """Largest size in [min_size, max_size] at which `text` wraps into width x height in <= max_lines lines.

    Returns (size, lines) or None. Sizes are tried top down in steps that stay within 4% of each other.
    """
    size = max_size
    while size >= min_size:
        lines = wrap(text, family, size, weight, width)
        if lines is not None and len(lines) <= max_lines and block_height(len(lines), size) <= height:
            return size, len(lines)
        size -= max(1, size // 25)
    return None
