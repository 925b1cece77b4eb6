"""The layout engine: a brief (what the LLM writes) -> a full `Design` on the request's canvas.

The brief says what the ad says (headline, supporting line, CTA, fine print, what the photo shows, the palette);
this module decides geometry the way a designer's template would: a composition chosen by the canvas's shape,
text sized with the real fonts to fill its box, everything on shared margins and centre lines, text colours that
keep WCAG contrast with what they sit on, and the fine print, at the smallest legible size, in a band of its own
on every canvas. Words are never cut to fit: a headline or CTA that does not fit raises LayoutError, and the caller
tries other words (engines/copy.py). It is deterministic: the same brief, canvas and variant give the same layout.

The look (palettes, font pairings) is data: configs/design/layout.yaml.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from adgenesis.engines import fonts
from adgenesis.colors import contrast_ratio, rgb
from adgenesis.engines.quality_rules import default_rules
from adgenesis.paths import CONFIGS_DIR
from adgenesis.schema import FONT_FAMILIES, Brief, Canvas, Design

if TYPE_CHECKING:
    from adgenesis.engines.facts import BriefFacts
    from adgenesis.engines.kit import Look

LAYOUT_RULES = CONFIGS_DIR / "design" / "layout.yaml"
Hex = str


class Colors(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    background: Hex
    headline: Hex
    body: Hex
    button: Hex
    button_text: Hex


class Palette(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    colors: list[Colors] = Field(min_length=1)
    fonts: list[tuple[Literal[FONT_FAMILIES], Literal[FONT_FAMILIES]]] = Field(min_length=1)  # type: ignore[valid-type]
    headline_weight: Literal["regular", "bold"] = "bold"


class LayoutRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    palettes: dict[str, Palette] = Field(min_length=1)


@lru_cache(maxsize=1)
def rules() -> LayoutRules:
    return LayoutRules.model_validate(yaml.safe_load(LAYOUT_RULES.read_text()))


def palette_names() -> list[str]:
    return list(rules().palettes)


class LayoutError(ValueError):
    """The brief cannot be laid out on this canvas (e.g. a headline too long for a 728x90 banner)."""


class CtaDoesNotFit(LayoutError):
    """The CTA's label is too long for the canvas's button: a shorter label of the same intent may fit."""


# Near-black reads softer than pure black, but on mid-tones (#7B6CD9) only pure black reaches 4.5:1.
INKS: tuple[Hex, ...] = ("#111111", "#FFFFFF", "#000000")


class _Style:
    """The colours and fonts of one layout: the brief's palette (its `variant`), or a brand kit's look."""

    def __init__(self, brief: Brief, variant: int, look: "Look | None" = None):
        palette = rules().palettes.get(brief.palette)
        if palette is None:
            raise LayoutError(f"unknown palette {brief.palette!r}; known: {palette_names()}")
        self.head_weight = palette.headline_weight
        self.look = look
        if look is None:
            self.colors = palette.colors[variant % len(palette.colors)]
            self.head_font, self.body_font = palette.fonts[variant % len(palette.fonts)]
            self.inks = INKS
        else:
            self.colors = Colors(background=look.background, headline=look.headline, body=look.body,
                                 button=look.button, button_text=look.button_text)
            self.head_font, self.body_font = look.head_font, look.body_font
            self.inks = look.colors  # a colour that must change to stay legible stays one of the kit's


def readable(color: Hex, under: Hex, large: bool, inks: tuple[Hex, ...] = INKS) -> Hex:
    """`color` if it keeps WCAG contrast on `under`, else the first of `inks` that does (else the one that comes
    closest)."""
    q = default_rules()
    need = q.min_contrast_large if large else q.min_contrast
    if contrast_ratio(rgb(color), rgb(under)) >= need:
        return color
    return max(inks, key=lambda c: min(contrast_ratio(rgb(c), rgb(under)), need + 0.5))


class _Canvas:
    """Collects elements in paint order and fits text with real font metrics."""

    def __init__(self, canvas: Canvas, brief: Brief, style: _Style):
        self.W, self.H, self.s = canvas.width, canvas.height, min(canvas.width, canvas.height)
        self.full_height = canvas.height
        self.canvas, self.brief, self.style = canvas, brief, style
        self.elements: list[dict] = []
        q = default_rules()
        self.head_floor = max(q.headline_min_px, q.headline_min_fraction * self.s)
        self.text_floor = max(q.text_min_px, q.text_min_fraction * self.s)
        self.large = q.large_text_fraction * self.s
        self.fine_print_size = math.ceil(self.text_floor)
        self.fine_print_margin = max(2.0, 0.04 * self.s)
        self.logo_min = q.logo_min_px
        self.safe_top, self.safe_bottom = 0.0, None  # the band a logo may go in (a story: the platforms' UI-safe one)
        self.logo_placed = False

    def fine_print_height(self) -> float:
        """The band the fine print needs at the bottom: its lines at the smallest legible size, plus a margin."""
        if not self.brief.fine_print:
            return 0.0
        lines = fonts.wrap(self.brief.fine_print, self.style.body_font, self.fine_print_size, "regular",
                           math.floor(self.W - 2 * self.fine_print_margin))
        if lines is None:
            raise LayoutError(f"fine print has a word wider than a {self.W} px canvas")
        return fonts.block_height(len(lines), self.fine_print_size) + 1.5 * self.fine_print_margin

    def fine_print(self, top: float) -> None:
        """The fine print, full width, from `top` down; on the background, so its colour keeps contrast there."""
        if not self.brief.fine_print:
            return
        m, size = self.fine_print_margin, self.fine_print_size
        lines = fonts.wrap(self.brief.fine_print, self.style.body_font, size, "regular", math.floor(self.W - 2 * m))
        h = fonts.block_height(len(lines), size)
        self.elements.append({
            **self._box(m, top + 0.5 * m, self.W - 2 * m, h), "type": "text", "text": self.brief.fine_print,
            "font_family": self.style.body_font, "font_size": size, "font_weight": "regular",
            "color": self._ink(self.style.colors.body, self.style.colors.background, False), "align": "center",
            "role": "fine_print"})

    def _ink(self, color: Hex, under: Hex, large: bool) -> Hex:
        return readable(color, under, large, self.style.inks)

    def _box(self, x, y, w, h) -> dict:
        x, y = max(0, round(x)), max(0, round(y))
        return {"x": x, "y": y, "width": max(1, min(round(w), self.W - x)), "height": max(1, min(round(h), self.full_height - y))}

    def image(self, x, y, w, h) -> None:
        self.elements.append({**self._box(x, y, w, h), "type": "image", "role": "product",
                              "description": self.brief.image})

    def _fit(self, kind: str, w, max_h, max_size: float, min_size: float, max_lines: int):
        """(text, size, height) for the headline or subline, whole (a span is never cut), or None."""
        headline = kind == "headline"
        text = self.brief.headline if headline else self.brief.subline
        if not text:
            return None
        family = self.style.head_font if headline else self.style.body_font
        weight = self.style.head_weight if headline else "regular"
        floor = self.head_floor if headline else self.text_floor
        low = max(round(min_size), math.ceil(floor))
        w, max_h = math.floor(w), math.floor(max_h)  # the box is stored in whole pixels: fit what it will hold
        fit = fonts.fit_size(text, family, weight, w, max_h, max(round(max_size), low), low, max_lines)
        if not fit:
            return None
        size, n_lines = fit
        return text, size, fonts.block_height(n_lines, size)

    def measure(self, kind: str, w, max_h, max_size, min_size, max_lines: int = 4) -> int:
        fit = self._fit(kind, w, max_h, max_size, min_size, max_lines)
        if fit is None:
            if kind == "headline":
                raise LayoutError(f"headline {self.brief.headline!r} does not fit {round(w)}x{round(max_h)} px")
            return 0
        return fit[2]

    def text(self, kind: str, x, y, w, max_h, max_size, min_size, align: str, valign: str = "top",
             max_lines: int = 4) -> int:
        """Place the headline or subline; returns the height used (0: a subline that does not fit is left out)."""
        fit = self._fit(kind, w, max_h, max_size, min_size, max_lines)
        if fit is None:
            if kind == "headline":
                raise LayoutError(f"headline {self.brief.headline!r} does not fit {round(w)}x{round(max_h)} px")
            return 0
        text, size, h = fit
        top = y + (max_h - h) / 2 if valign == "middle" else y
        headline = kind == "headline"
        color = self.style.colors.headline if headline else self.style.colors.body
        self.elements.append({
            **self._box(x, top, w, h), "type": "text", "text": text,
            "font_family": self.style.head_font if headline else self.style.body_font, "font_size": size,
            "font_weight": self.style.head_weight if headline else "regular",
            "color": self._ink(color, self.style.colors.background, size >= self.large),
            "align": align, "role": "headline" if headline else "body"})
        return h

    def button(self, x, y, w, h, font_max: float, shrink_to_label: bool = False) -> None:
        """A rounded rectangle with the CTA centred on it, whole: a label too long raises LayoutError."""
        family, label = self.style.body_font, self.brief.cta
        floor = int(self.text_floor) + 1
        fit = fonts.fit_size(label, family, "bold", math.floor(w * 0.86) - 1, math.floor(h * 0.8) - 1,
                             max(round(font_max), floor), floor, 1)
        if fit is None:
            raise CtaDoesNotFit(f"CTA {self.brief.cta!r} does not fit a {round(w)}x{round(h)} button")
        size = fit[0]
        if shrink_to_label:
            w = min(w, fonts.text_width(label, family, size, "bold") / 0.86 + 0.6 * size)
        button = self._ink(self.style.colors.button, self.style.colors.background, True)
        self.elements.append({**self._box(x, y, w, h), "type": "shape", "shape": "rounded_rectangle", "color": button})
        # The label's box is the button's inner area: it stays clear of the rounded corners.
        label_box = self._box(x + 0.07 * w, y + 0.1 * h, 0.86 * w, 0.8 * h)
        self.elements.append({**label_box, "type": "text", "text": label, "font_family": family, "font_size": size,
                              "font_weight": "bold", "color": self._ink(self.style.colors.button_text, button, False),
                              "align": "center", "role": "cta"})

    def has_logo(self) -> bool:
        return self.style.look is not None and self.style.look.logo is not None

    def logo_size(self, max_h: float, max_w: float) -> tuple[float, float]:
        """The logo's box at its own aspect ratio, as large as `max_h` x `max_w` allows."""
        aspect = self.style.look.logo_aspect
        w, h = max_h * aspect, max_h
        return (max_w, max_w / aspect) if w > max_w else (w, h)

    def logo(self, x, y, w, h) -> None:
        self.elements.append({**self._box(x, y, w, h), "type": "image", "role": "logo",
                              "description": self.style.look.logo_label})
        self.logo_placed = True

    def place_logo(self) -> None:
        """The kit's logo in the first corner of the canvas (its safe band) that no text or button covers and no photo
        either, else in a corner of the photo; none where no corner has room for it at a legible size."""
        if not self.has_logo() or self.logo_placed:
            return
        m = LOGO_MARGIN * self.s
        w, h = self.logo_size(max(LOGO_HEIGHT * self.s, self.logo_min),
                              min(LOGO_MAX_WIDTH * max(self.W, self.H), self.W - 2 * m))
        if h < self.logo_min:
            return
        top, bottom = self.safe_top, self.safe_bottom if self.safe_bottom is not None else self.H
        spots = [(m, top + m), (self.W - m - w, top + m), (self.W - m - w, bottom - m - h), (m, bottom - m - h)]
        for photo in (el for el in self.elements if el["type"] == "image"):  # on its centre line, or its edges
            y = max(photo["y"], top) + m
            spots += [(photo["x"] + (photo["width"] - w) / 2, y), (photo["x"], y), (photo["x"] + photo["width"] - w, y)]
        clear, on_photo = [], []
        for x, y in spots:
            if x < 0 or y < top or x + w > self.W or y + h > bottom:
                continue
            hits = [el for el in self.elements if _overlap((x, y, w, h), el)]
            if all(el["type"] == "image" for el in hits):
                (on_photo if hits else clear).append((x, y))
        if clear or on_photo:
            self.logo(*(clear or on_photo)[0], w, h)

    def design(self) -> Design:
        look = self.style.look
        return Design.from_layout({"background_color": self.style.colors.background, "elements": self.elements,
                                   "brand_kit": look.ref.model_dump() if look is not None else None}, self.canvas)


def _overlap(box: tuple[float, float, float, float], el: dict) -> bool:
    x, y, w, h = box
    return min(x + w, el["x"] + el["width"]) > max(x, el["x"]) and min(y + h, el["y"] + el["height"]) > max(y, el["y"])


# ---- compositions: one per canvas shape ------------------------------------------------------------

# A kit's logo, as fractions of the canvas's short side (its height, its margin) and long side (its width); a
# composition without a place of its own for it gets it in a free corner (`_Canvas.place_logo`).
LOGO_HEIGHT, LOGO_MAX_WIDTH, LOGO_MARGIN = 0.09, 0.3, 0.04


def story(L: _Canvas) -> None:
    """Full-screen vertical (9:16): stacked and centred inside the platforms' UI-safe band, fine print at its foot."""
    W, H = L.W, L.H
    m, gap = 0.07 * W, 0.025 * H
    top, bottom = 0.12 * H, 0.83 * H  # Stories/Reels/TikTok overlay their UI above and below this band
    fine = L.fine_print_height()
    bottom -= fine
    L.fine_print(bottom)
    if L.has_logo():  # centred at the top of the safe band, above the headline
        lw, lh = L.logo_size(0.045 * H, 0.4 * W)
        L.logo((W - lw) / 2, top, lw, lh)
        top += lh + gap
    bh, bw = 0.065 * H, 0.6 * W
    by = bottom - bh
    hh = L.measure("headline", W - 2 * m, 0.17 * H, 0.09 * W, 0.05 * W, 3)
    sh = L.measure("sub", W - 2 * m, 0.09 * H, 0.042 * W, 0.028 * W, 2)
    img_y = top + hh + (0.6 * gap + sh + gap if sh else gap)
    L.image(m, img_y, W - 2 * m, by - gap - img_y)
    L.text("headline", m, top, W - 2 * m, hh, 0.09 * W, 0.05 * W, "center", max_lines=3)
    if sh:
        L.text("sub", m, top + hh + 0.6 * gap, W - 2 * m, sh, 0.042 * W, 0.028 * W, "center", max_lines=2)
    L.button((W - bw) / 2, by, bw, bh, 0.042 * W)


def top_image(L: _Canvas) -> None:
    """Feed square/portrait: full-bleed photo on top, left-aligned copy and button below."""
    W, H, s = L.W, L.H, L.s
    m = 0.07 * s
    img_h = 0.5 * H if H > W else 0.47 * H
    L.image(0, 0, W, img_h)
    bh, bw = 0.085 * s, 0.42 * W
    by = H - m - bh
    y = img_h + 0.8 * m
    avail = by - 0.6 * m - y
    hh = L.text("headline", m, y, W - 2 * m, avail * 0.62, 0.075 * W, 0.046 * W, "left", max_lines=3)
    y += hh + 0.3 * m
    L.text("sub", m, y, W - 2 * m, by - 0.5 * m - y, 0.036 * W, 0.024 * W, "left", max_lines=3)
    L.button(m, by, bw, bh, 0.036 * W)


def centered(L: _Canvas) -> None:
    """Square, for quiet looks (minimal, luxury, calm): headline, framed photo, line, button, all centred."""
    W, H = L.W, L.H
    m = 0.075 * W
    hh = L.measure("headline", W - 2 * m, 0.17 * H, 0.068 * W, 0.046 * W, 2)
    sh = L.measure("sub", W - 2 * m, 0.1 * H, 0.034 * W, 0.024 * W, 2)
    bh, bw = 0.08 * H, 0.42 * W
    by = H - m - bh
    img_y = m + hh + 0.03 * H
    img_bottom = by - 0.03 * H - (sh + 0.025 * H if sh else 0)
    img_w = min(W - 2 * m, (img_bottom - img_y) * 1.3)
    L.image((W - img_w) / 2, img_y, img_w, img_bottom - img_y)
    L.text("headline", m, m, W - 2 * m, hh, 0.068 * W, 0.046 * W, "center", max_lines=2)
    if sh:
        L.text("sub", m, img_bottom + 0.025 * H, W - 2 * m, sh, 0.034 * W, 0.024 * W, "center", max_lines=2)
    L.button((W - bw) / 2, by, bw, bh, 0.034 * W)


def split(L: _Canvas) -> None:
    """Landscape feed (~1.8:1): copy column on the left, full-height photo on the right."""
    W, H = L.W, L.H
    col_w, mx, my = 0.5 * W, 0.05 * W, 0.12 * H
    text_w = col_w - 2 * mx
    L.image(col_w, 0, W - col_w, H)
    bh, bw = 0.13 * H, min(text_w, 0.26 * W)
    by = H - my - bh
    avail = by - 0.07 * H - my
    hh = L.text("headline", mx, my, text_w, avail * 0.62, 0.1 * H, 0.05 * H, "left", max_lines=3)
    y = my + hh + 0.04 * H
    L.text("sub", mx, y, text_w, by - 0.05 * H - y, 0.045 * H, 0.03 * H, "left", max_lines=3)
    L.button(mx, by, bw, bh, 0.05 * H)


def thumbnail(L: _Canvas) -> None:
    """YouTube thumbnail: big headline left, subject right, a short button, no body copy."""
    W, H = L.W, L.H
    m, img_x = 0.05 * W, 0.45 * W
    L.image(img_x, 0, W - img_x, H)
    bh = 0.13 * H
    by = H - m - bh
    L.text("headline", m, m, img_x - 1.5 * m, by - 0.06 * H - m, 0.16 * H, 0.08 * H, "left", "middle", 3)
    L.button(m, by, img_x - 1.5 * m, bh, 0.06 * H, shrink_to_label=True)


def banner_strip(L: _Canvas) -> None:
    """Wide display banners (728x90, 970x250): photo | copy | CTA in one row."""
    W, H = L.W, L.H
    tall = H >= 200  # billboard: room for a supporting line
    m = 0.035 * W if tall else 0.022 * W
    img_w = 0.32 * W if tall else 1.6 * H
    L.image(0, 0, img_w, H)
    bw, bh = 0.2 * W, (0.22 if tall else 0.5) * H
    end = W
    if L.has_logo():  # at the row's end, after the button
        lw, lh = L.logo_size((0.4 if tall else 0.6) * H, 0.14 * W)
        L.logo(W - m - lw, (H - lh) / 2, lw, lh)
        end = W - m - lw
    bx, text_x = end - m - bw, img_w + m
    text_w = bx - m - text_x
    if tall:
        my = 0.14 * H
        hh = L.measure("headline", text_w, 0.58 * (H - 2 * my), 0.18 * H, 0.1 * H, 2)
        sh = L.measure("sub", text_w, H - 2 * my - hh - 0.05 * H, 0.08 * H, 0.06 * H, 2)
        if sh:
            L.text("headline", text_x, my, text_w, hh, 0.18 * H, 0.1 * H, "left", max_lines=2)
            L.text("sub", text_x, my + hh + 0.05 * H, text_w, sh, 0.08 * H, 0.06 * H, "left", max_lines=2)
        else:  # a headline alone sits on the row's centre line, as the photo and the button do
            L.text("headline", text_x, my, text_w, H - 2 * my, 0.18 * H, 0.1 * H, "left", "middle", 2)
        L.button(bx, H - my - bh, bw, bh, 0.085 * H)
    else:
        L.text("headline", text_x, 0.1 * H, text_w, 0.8 * H, 0.3 * H, 0.18 * H, "left", "middle", 2)
        L.button(bx, (H - bh) / 2, bw, bh, 0.22 * H)


def skyscraper(L: _Canvas) -> None:
    """Narrow tall banner (160x600): headline on top, photo, CTA at the bottom."""
    W, H = L.W, L.H
    m = 0.08 * W
    hh = L.measure("headline", W - 2 * m, 0.3 * H, 0.15 * W, 0.1 * W, 5)
    bh = 0.075 * H
    by = H - 0.04 * H - bh
    img_y = 0.04 * H + hh + 0.04 * H
    L.image(m, img_y, W - 2 * m, by - 0.04 * H - img_y)
    L.text("headline", m, 0.04 * H, W - 2 * m, hh, 0.15 * W, 0.1 * W, "center", max_lines=5)
    L.button(m, by, W - 2 * m, bh, 0.1 * W)


def compact(L: _Canvas) -> None:
    """Small near-square display (300x250): headline, photo, CTA; no body copy."""
    W, H = L.W, L.H
    m = 0.04 * W
    hh = L.measure("headline", W - 2 * m, 0.26 * H, 0.08 * W, 0.055 * W, 2)
    bh, bw = 0.15 * H, 0.6 * W
    by = H - m - bh
    img_y = m + hh + 0.03 * H
    img_h = by - 0.03 * H - img_y
    img_w = min(W - 2 * m, img_h * 1.6)
    L.image((W - img_w) / 2, img_y, img_w, img_h)
    L.text("headline", m, m, W - 2 * m, hh, 0.08 * W, 0.055 * W, "center", max_lines=2)
    L.button((W - bw) / 2, by, bw, bh, 0.06 * W)


COMPOSITIONS: dict[str, Callable[[_Canvas], None]] = {
    "story": story, "top_image": top_image, "centered": centered, "split": split, "thumbnail": thumbnail,
    "banner_strip": banner_strip, "skyscraper": skyscraper, "compact": compact,
}
QUIET_PALETTES = ("minimal", "luxury", "calm")


def composition_for(canvas: Canvas, palette: str) -> str:
    """Aspect ratio first, then size; squares also follow the look."""
    ratio = canvas.width / canvas.height
    if ratio >= 3:
        return "banner_strip"
    if ratio <= 0.34:
        return "skyscraper"
    if max(canvas.width, canvas.height) < 400:
        return "compact"
    if ratio < 0.7:
        return "story"
    if canvas.format == "thumbnail":
        return "thumbnail"
    if ratio > 1.3:
        return "split"
    if ratio > 0.95 and palette in QUIET_PALETTES:
        return "centered"
    return "top_image"


# Compositions that place the fine print themselves; the others get the canvas less a band at its foot.
PLACES_FINE_PRINT = ("story",)


def lay_out(brief: Brief, canvas: Canvas, variant: int = 0, look: "Look | None" = None) -> Design:
    """The brief as a `Design` on `canvas`; `variant` (e.g. the request's seed) picks colour and font variants, or
    `look`, a brand kit's, gives them (and a logo). Raises LayoutError when its headline, supporting line or CTA does
    not fit whole."""
    L = _Canvas(canvas, brief, _Style(brief, variant, look))
    name = composition_for(canvas, brief.palette)
    if name not in PLACES_FINE_PRINT:
        band = L.fine_print_height()
        if band > 0.4 * L.H:
            raise LayoutError(f"fine print of {len(brief.fine_print)} characters needs {round(band)} px of a "
                              f"{L.H} px canvas")
        L.H = L.H - band
        COMPOSITIONS[name](L)
        L.place_logo()
        L.fine_print(L.H)
    else:
        COMPOSITIONS[name](L)
        L.place_logo()
    return L.design()


def palette_for(facts: "BriefFacts") -> str:
    """The palette a brief's own words ask for: a brand-colour pair both of whose colours it names, else the mood
    its tone words name (`Lexicon.moods`), else the first palette."""
    import re

    from adgenesis.engines.lexicon import lexicon

    said = " ".join(s.text for s in (*facts.colors, *facts.tone)).casefold()
    names = palette_names()
    for name in names:
        colours = name.split("_")
        if len(colours) == 2 and all(re.search(rf"(?<![\w]){c}", said) for c in colours):
            return name
    for name, words in lexicon(facts.language).moods.items():
        if name in names and any(re.search(rf"(?<![\w]){re.escape(w.casefold())}(?![\w])", said) for w in words):
            return name
    return names[0]


def with_fine_print(design: Design, fine_print: str, look: "Look | None" = None) -> Design:
    """A layout the model placed itself (free mode), with the fine print added in a band at its foot: every other
    element is scaled into the height above the band, so nothing overlaps it. With a kit's `look`, the design records
    the kit, and a fine-print colour that must change to stay legible is one of the kit's."""
    if look is not None:
        design = design.model_copy(update={"brand_kit": look.ref})
    if not fine_print:
        return design
    canvas = Canvas(platform=design.platform, format=design.format, width=design.width, height=design.height)
    text_colour = next((el.color for el in design.elements if getattr(el, "role", None) == "body"), "#111111")
    probe = _Canvas(canvas, Brief(headline="x", cta="x", image="x", palette=palette_names()[0], fine_print=fine_print),
                    _Style(Brief(headline="x", cta="x", image="x", palette=palette_names()[0]), 0, look))
    band = probe.fine_print_height()
    if band > 0.4 * design.height:
        raise LayoutError(f"fine print of {len(fine_print)} characters needs {round(band)} px of a {design.height} px canvas")
    scale = (design.height - band) / design.height
    elements = []
    for el in design.elements:
        body = el.model_dump()
        body["y"], body["height"] = math.floor(el.y * scale), max(1, math.floor(el.height * scale))
        if body["type"] == "text":
            body["font_size"] = max(8, math.floor(el.font_size * scale))
        elements.append(body)
    probe.style.colors = probe.style.colors.model_copy(update={"background": design.background_color,
                                                               "body": text_colour})
    probe.fine_print(design.height - band)
    return Design.from_layout({"background_color": design.background_color, "elements": [*elements, *probe.elements],
                               "brand_kit": design.brand_kit}, canvas)
