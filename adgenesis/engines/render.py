"""Draw a `Design` as a picture with Pillow: the mock-up a person looks at and the pixels the checks judge.

Text is measured, wrapped and drawn with `fonts`, the same metrics the layout engine and the quality
checks use, so a text that "fits" there is drawn inside its box here. One paint pass serves both the
picture and the contrast check: `render_layers` records what lies under each text just before drawing it.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
from functools import lru_cache
from typing import Callable

from PIL import Image, ImageDraw, ImageOps

from adgenesis.colors import rgb
from adgenesis.engines import fonts
from adgenesis.schema import Design, ImageElement, ShapeElement, TextElement

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), clipped to the canvas
Probe = Callable[[int, Image.Image], None]

PLACEHOLDER_FONT = "Inter"


def render(design: Design, images: dict[int, Image.Image] | None = None) -> Image.Image:
    """The design as an RGB picture of the canvas size; `images` maps element index -> picture for that slot."""
    return _paint(design, images or {}, None)


def render_png(design: Design, images: dict[int, Image.Image] | None = None) -> bytes:
    buf = io.BytesIO()
    # Flat-colour mock-ups compress well even at level 1; level 6 (default) costs ~4x the time for ~10% bytes.
    render(design, images).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def render_layers(design: Design, images: dict[int, Image.Image] | None = None
                  ) -> tuple[Image.Image, dict[int, Image.Image]]:
    """Paint once; return the picture and, per text element index, the canvas under its box before it was drawn."""
    under: dict[int, Image.Image] = {}
    picture = _paint(design, images or {}, lambda i, crop: under.__setitem__(i, crop))
    return picture, under


def box_of(el, width: int, height: int) -> Box:
    return max(el.x, 0), max(el.y, 0), min(el.x + el.width, width), min(el.y + el.height, height)


def contains(outer, inner, tol: int = 1) -> bool:
    """Whether box `inner` lies within box `outer`, give or take `tol` px of rounding."""
    return (outer.x - tol <= inner.x and outer.y - tol <= inner.y
            and inner.x + inner.width <= outer.x + outer.width + tol
            and inner.y + inner.height <= outer.y + outer.height + tol)


def host_shape(design: Design, index: int, tolerance: int = 1) -> int | None:
    """The last shape painted before element `index` whose box contains it (a button under a label), if any."""
    el = design.elements[index]
    for j in range(index - 1, -1, -1):
        s = design.elements[j]
        if isinstance(s, ShapeElement) and s.shape != "line" and contains(s, el, tolerance):
            return j
    return None


def text_lines(el: TextElement) -> tuple[str, ...]:
    """The lines the text is drawn in; a word wider than the box gets a line of its own (and overflows)."""
    lines = fonts.wrap(el.text, el.font_family, el.font_size, el.font_weight, el.width)
    return lines if lines is not None else tuple(el.text.split())


# --------------------------------------------------------------------------------------------------


def _paint(design: Design, images: dict[int, Image.Image], probe: Probe | None) -> Image.Image:
    canvas = Image.new("RGB", (design.width, design.height), rgb(design.background_color))
    draw = ImageDraw.Draw(canvas)
    for i, el in enumerate(design.elements):
        box = box_of(el, design.width, design.height)
        if box[2] <= box[0] or box[3] <= box[1]:
            continue  # nothing of it on the canvas
        if isinstance(el, ShapeElement):
            _shape(draw, el, box)
        elif isinstance(el, ImageElement):
            if i in images:
                _paste(canvas, images[i], box, whole=el.role == "logo")
            else:
                _placeholder(canvas, draw, el, box)
        else:
            if probe is not None:
                probe(i, canvas.crop(box))
            # A label on a button is centred on it however tall its box is; headline/body text on a panel is not.
            _text(draw, el, centred=el.role not in ("headline", "body") and host_shape(design, i) is not None)
    return canvas


def _shape(draw: ImageDraw.ImageDraw, el: ShapeElement, box: Box) -> None:
    fill = rgb(el.color)
    l, t, r, b = box
    rect = (l, t, r - 1, b - 1)  # Pillow's rectangles include their far corner
    if el.shape == "rectangle":
        draw.rectangle(rect, fill=fill)
    elif el.shape == "rounded_rectangle":
        draw.rounded_rectangle(rect, radius=int(0.25 * min(r - l, b - t)), fill=fill)
    elif el.shape == "ellipse":
        draw.ellipse(rect, fill=fill)
    else:  # a rule along the box's long axis, as thick as the box is thin: what a designer means by a line box
        w, h = r - l, b - t
        if w >= h:
            draw.line((l, t + h // 2, r - 1, t + h // 2), fill=fill, width=h)
        else:
            draw.line((l + w // 2, t, l + w // 2, b - 1), fill=fill, width=w)


def _paste(canvas: Image.Image, picture: Image.Image, box: Box, whole: bool = False) -> None:
    """Cover-fit: scale to cover the box, centre-crop; `whole` (a logo): scale to fit inside it, centred, nothing cut.
    Transparent pictures keep what is under them."""
    l, t, r, b = box
    has_alpha = picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info)
    picture = picture.convert("RGBA" if has_alpha else "RGB")
    if whole:
        fitted = ImageOps.contain(picture, (r - l, b - t), method=Image.Resampling.LANCZOS)
        l, t = l + (r - l - fitted.width) // 2, t + (b - t - fitted.height) // 2
    else:
        fitted = ImageOps.fit(picture, (r - l, b - t), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5))
    canvas.paste(fitted, (l, t), fitted if has_alpha else None)


def placeholder_color(description: str) -> tuple[int, int, int]:
    """A muted colour fixed by the description, so the same slot looks the same in every mock-up."""
    digest = hashlib.blake2b(description.casefold().encode(), digest_size=2).digest()  # hash() is salted per process
    hue = int.from_bytes(digest, "big") / 65536
    r, g, b = colorsys.hsv_to_rgb(hue, 0.22, 0.78)
    return round(r * 255), round(g * 255), round(b * 255)


def _placeholder(canvas: Image.Image, draw: ImageDraw.ImageDraw, el: ImageElement, box: Box) -> None:
    l, t, r, b = box
    fill = placeholder_color(el.description)
    ink = tuple(round(c * 0.55) for c in fill)
    w, h = r - l, b - t
    stroke = max(1, round(min(w, h) / 200))
    draw.rectangle((l, t, r - 1, b - 1), fill=fill, outline=ink, width=stroke)
    draw.line((l, t, r - 1, b - 1), fill=ink, width=stroke)
    draw.line((l, b - 1, r - 1, t), fill=ink, width=stroke)
    size = max(10, min(28, round(min(w, h) * 0.08)))
    pad = max(2, size // 2)
    label = f"{el.role}: {el.description}"
    lines = fonts.wrap(label, PLACEHOLDER_FONT, size, "regular", w - 2 * pad)
    if lines is None or fonts.block_height(len(lines), size) > h - 2 * pad:
        return  # a slot too small to label is still recognisable by its cross
    # The label sits on a plate of the fill colour so the cross does not run through it.
    top = t + (h - fonts.block_height(len(lines), size)) // 2
    widest = max(fonts.text_width(line, PLACEHOLDER_FONT, size) for line in lines)
    cx = l + w / 2
    draw.rectangle((math.floor(cx - widest / 2) - pad // 2, top - pad // 2,
                    math.ceil(cx + widest / 2) + pad // 2, top + fonts.block_height(len(lines), size) + pad // 2),
                   fill=fill)
    _lines(draw, lines, PLACEHOLDER_FONT, size, "regular", ink, l, w, top, "center")


def _text(draw: ImageDraw.ImageDraw, el: TextElement, centred: bool) -> None:
    lines = text_lines(el)
    top = el.y
    if centred:
        top += max(0, (el.height - fonts.block_height(len(lines), el.font_size)) // 2)
    _lines(draw, lines, el.font_family, el.font_size, el.font_weight, rgb(el.color), el.x, el.width, top, el.align)


def _lines(draw: ImageDraw.ImageDraw, lines, family: str, size: int, weight: str, fill, left: int, width: int,
           top: int, align: str) -> None:
    face = fonts.font(family, size, weight)
    pitch = fonts.line_pitch(size)
    baseline = _baseline(family, size, weight)
    for k, line in enumerate(lines):
        x = left
        if align != "left":
            slack = width - fonts.text_width(line, family, size, weight)
            x = left + (slack / 2 if align == "center" else slack)
        draw.text((x, top + k * pitch + baseline), line, font=face, fill=fill, anchor="ls")


@lru_cache(maxsize=512)
def _baseline(family: str, size: int, weight: str) -> int:
    """Baseline offset from a line's top: as low as the font's ascent allows while its descenders still end
    within the `block_height` budget (1.1 x size) of a last line, so drawn ink stays inside a box that fits."""
    face = fonts.font(family, size, weight)
    ascent, _ = face.getmetrics()
    descender = max(0, face.getbbox("gjpqy", anchor="ls")[3])
    return max(1, min(ascent, math.ceil(size * 1.1) - descender))
