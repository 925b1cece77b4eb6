"""Fonts and logos made for the brand-kit tests: real TTF/OTF files built with fontTools (a box per glyph, or an empty
one), and PNG/JPEG/SVG logos with a uniform border, so every check of an upload has a file it passes or fails on."""

from __future__ import annotations

import io

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image, ImageDraw

from adgenesis.settings import KIT_GLYPHS

UNITS, ADVANCE = 1000, 600


def _box(pen) -> None:
    pen.moveTo((50, 0))
    pen.lineTo((50, 700))
    pen.lineTo((550, 700))
    pen.lineTo((550, 0))
    pen.closePath()


def font_bytes(characters: str = KIT_GLYPHS, family: str = "Test Sans", otf: bool = False, empty: str = "") -> bytes:
    """A font that maps every one of `characters` to a glyph of its own: a box, or nothing for those in `empty`."""
    chars = list(dict.fromkeys(characters + empty))
    names = [".notdef"] + [f"uni{ord(ch):04X}" for ch in chars]
    builder = FontBuilder(UNITS, isTTF=not otf)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(ch): f"uni{ord(ch):04X}" for ch in chars})
    drawn = {name for ch, name in zip(chars, names[1:]) if ch not in empty} | {".notdef"}
    if otf:
        strings = {}
        for name in names:
            pen = T2CharStringPen(ADVANCE, None)
            if name in drawn:
                _box(pen)
            strings[name] = pen.getCharString()
        builder.setupCFF(family.replace(" ", ""), {"FullName": family}, strings, {})
    else:
        glyphs = {}
        for name in names:
            pen = TTGlyphPen(None)
            if name in drawn:
                _box(pen)
            glyphs[name] = pen.glyph()
        builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (ADVANCE, 50) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def logo_bytes(fmt: str = "PNG", size: tuple[int, int] = (120, 80), border: int = 20, transparent: bool = False,
               mark: bool = True) -> bytes:
    """A red mark with a `border` of flat white (or transparent) around it; no mark: all border."""
    mode, background = ("RGBA", (0, 0, 0, 0)) if transparent else ("RGB", "white")
    image = Image.new(mode, size, background)
    if mark:
        ImageDraw.Draw(image).rectangle([border, border, size[0] - border - 1, size[1] - border - 1], fill="#C8102E")
    out = io.BytesIO()
    image.save(out, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return out.getvalue()


SVG_LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
