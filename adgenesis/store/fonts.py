"""An uploaded font, checked before it is kept: a TrueType or OpenType file (by its first bytes, never its name) of
at most the profile's size, that fontTools reads whole and FreeType (the renderer's) loads, and that draws every
letter of the kit's languages (`store.font_glyphs`) with a glyph of its own that has an outline."""

from __future__ import annotations

import io
from dataclasses import dataclass

from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from PIL import ImageFont

from adgenesis.brand import MAX_NAME_CHARS, MEDIA_TYPES
from adgenesis.checksum import bytes_sha256
from adgenesis.errors import Invalid, Malformed, TooLarge, UnsupportedMedia
from adgenesis.settings import StoreSettings

# The sfnt versions of a single TrueType ("\0\1\0\0", Apple's "true") or CFF-flavoured OpenType ("OTTO") font.
SUFFIXES = {b"\x00\x01\x00\x00": ".ttf", b"true": ".ttf", b"OTTO": ".otf"}
NOT_TAKEN = {b"wOFF": "a WOFF web font", b"wOF2": "a WOFF2 web font", b"ttcf": "a font collection (TTC)"}
MISSING_SHOWN = 24  # the characters a refusal lists: enough to see which language is missing
PROBE_SIZE = 24  # px: FreeType only has to open the face


@dataclass(frozen=True)
class CheckedFont:
    name: str  # <sha256>.ttf|.otf
    data: bytes
    family: str
    media_type: str


def check_font(data: bytes, settings: StoreSettings) -> CheckedFont:
    """The font as it will be kept, or a refusal: TooLarge, UnsupportedMedia (not TTF/OTF), Malformed (unreadable),
    Invalid (letters it cannot draw)."""
    if not data:
        raise Malformed("empty font upload")
    if len(data) > settings.max_font_bytes:
        raise TooLarge(f"font upload is {len(data)} bytes; the limit is {settings.max_font_bytes}")
    suffix = SUFFIXES.get(data[:4])
    if suffix is None:
        what = NOT_TAKEN.get(data[:4], "not a font file")
        raise UnsupportedMedia(f"send a TrueType (.ttf) or OpenType (.otf) font; this is {what}")
    try:
        font = TTFont(io.BytesIO(data))
        font.ensureDecompiled()  # every table, so that a file broken anywhere is refused here, not when drawn
        family = font["name"].getBestFamilyName()
        missing = _undrawn(font, settings.font_glyphs)
    except Exception as exc:  # noqa: BLE001 - fontTools raises whatever its parsers meet in a broken file
        raise Malformed(f"unreadable font: {type(exc).__name__}: {str(exc)[:300]}") from None
    try:
        ImageFont.truetype(io.BytesIO(data), PROBE_SIZE)
    except OSError as exc:
        raise Malformed(f"the renderer cannot load this font: {exc}") from None
    family = " ".join(str(family or "").split())[:MAX_NAME_CHARS] or "Uploaded font"
    if missing:
        shown = "".join(missing[:MISSING_SHOWN]) + ("..." if len(missing) > MISSING_SHOWN else "")
        raise Invalid(f"the font {family!r} cannot draw {len(missing)} of the kit's letters: {shown!r}")
    return CheckedFont(name=bytes_sha256(data) + suffix, data=data, family=family, media_type=MEDIA_TYPES[suffix])


def _undrawn(font: TTFont, characters: str) -> list[str]:
    """The characters the font has no real glyph for: not in its cmap, mapped to .notdef, or a glyph with no
    outline (an empty box would pass a cmap check and draw nothing)."""
    cmap = font.getBestCmap() or {}
    glyphs = font.getGlyphSet()
    missing = []
    for ch in dict.fromkeys(characters):
        name = cmap.get(ord(ch))
        if name is None or name == ".notdef" or name not in glyphs:
            missing.append(ch)
            continue
        pen = BoundsPen(glyphs)
        glyphs[name].draw(pen)
        if pen.bounds is None:
            missing.append(ch)
    return missing
