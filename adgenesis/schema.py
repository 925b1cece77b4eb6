"""The ad-design layout: canvas presets, elements, validation and the JSON Schema the LLM is held to.

A layout is what the design-spec LLM writes (`LayoutBody`); a `Design` is a layout placed on a known
canvas, and only a `Design` can be checked for elements that leave the canvas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

HEX_COLOR = r"^#[0-9a-fA-F]{6}$"
MAX_ELEMENTS = 8  # photo, headline, line, button and its label, fine print, logo; bounds free mode's answer too
MAX_TEXT_CHARS = 500  # fine print carries every condition of every offer: it is never cut to a length
MAX_DESCRIPTION_CHARS = 80

# (platform, format) -> (width, height) in pixels, from the platforms' own ad specs.
CANVAS_PRESETS: dict[str, dict[str, tuple[int, int]]] = {
    "meta": {"square": (1080, 1080), "portrait": (1080, 1350), "story": (1080, 1920), "landscape": (1200, 628)},
    "instagram": {"square": (1080, 1080), "portrait": (1080, 1350), "story": (1080, 1920)},
    "tiktok": {"story": (1080, 1920)},
    "linkedin": {"square": (1200, 1200), "landscape": (1200, 627), "portrait": (1080, 1350)},
    "x": {"landscape": (1600, 900), "square": (1080, 1080)},
    "youtube": {"thumbnail": (1280, 720)},
    "display": {
        "medium_rectangle": (300, 250),
        "leaderboard": (728, 90),
        "skyscraper": (160, 600),
        "billboard": (970, 250),
    },
}

DesignMode = Literal["brief", "free"]  # who places the elements: the layout engine, or the LLM itself
FONT_FAMILIES = ("Montserrat", "Inter", "Roboto", "Playfair Display", "Poppins", "Lato", "Oswald", "Bebas Neue")
# A brand kit's uploaded font, named in a layout by its content-hash file name (engines/fonts.py opens it).
UPLOADED_FONT = r"^[0-9a-f]{64}\.(ttf|otf)$"
FontFamily = Union[Literal[FONT_FAMILIES], Annotated[str, Field(pattern=UPLOADED_FONT)]]  # type: ignore[valid-type]
Color = Annotated[str, Field(pattern=HEX_COLOR, description="#RRGGBB")]
Coord = Annotated[int, Field(ge=0, le=4000)]
Size = Annotated[int, Field(ge=1, le=4000)]


class Canvas(BaseModel):
    platform: str
    format: str
    width: int
    height: int


class UnknownCanvas(ValueError):
    pass


def canvas_for(platform: str, format: str) -> Canvas:
    """Look up a preset; the error lists what is known so a caller can correct the request."""
    formats = CANVAS_PRESETS.get(platform)
    if formats is None:
        raise UnknownCanvas(f"unknown platform {platform!r}; known: {sorted(CANVAS_PRESETS)}")
    if format not in formats:
        raise UnknownCanvas(f"unknown format {format!r} for platform {platform!r}; known: {sorted(formats)}")
    width, height = formats[format]
    return Canvas(platform=platform, format=format, width=width, height=height)


class _Box(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: Coord
    y: Coord
    width: Size
    height: Size


class TextElement(_Box):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    font_family: FontFamily = Field(description="a bundled family, or a brand kit's uploaded font")
    font_size: int = Field(ge=8, le=200)
    font_weight: Literal["regular", "bold"]
    color: Color
    align: Literal["left", "center", "right"]
    role: Literal["headline", "body", "cta", "fine_print"] | None = Field(None, description="what the text is for, when known")


class ShapeElement(_Box):
    type: Literal["shape"]
    shape: Literal["rectangle", "rounded_rectangle", "ellipse", "line"]
    color: Color


class ImageElement(_Box):
    type: Literal["image"]
    role: Literal["product", "logo", "photo", "icon"]
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)


Element = Annotated[Union[TextElement, ShapeElement, ImageElement], Field(discriminator="type")]


class LayoutBody(BaseModel):
    """What the LLM writes for one request; the canvas comes from the request, not the model."""

    model_config = ConfigDict(extra="forbid")
    background_color: Color
    elements: list[Element] = Field(min_length=1, max_length=MAX_ELEMENTS)


class KitRef(BaseModel):
    """The brand kit and version a design was drawn with: a render of the design uses that version."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    version: int = Field(ge=1)


class Design(LayoutBody):
    """A layout on its canvas: every element must lie fully inside it."""

    platform: str
    format: str
    width: int
    height: int
    brand_kit: KitRef | None = Field(None, description="the brand kit it was drawn with, if any")

    @model_validator(mode="after")
    def _inside_canvas(self) -> "Design":
        canvas = canvas_for(self.platform, self.format)
        if (self.width, self.height) != (canvas.width, canvas.height):
            raise ValueError(f"canvas {self.width}x{self.height} does not match {self.platform}/{self.format}")
        for i, el in enumerate(self.elements):
            if el.x + el.width > self.width or el.y + el.height > self.height:
                raise ValueError(
                    f"elements.{i} ({el.type}) at x={el.x} y={el.y} size {el.width}x{el.height} "
                    f"leaves the {self.width}x{self.height} canvas"
                )
        return self

    @classmethod
    def from_layout(cls, layout: LayoutBody | dict[str, Any], canvas: Canvas) -> "Design":
        body = layout.model_dump() if isinstance(layout, LayoutBody) else layout
        return cls.model_validate({**body, **canvas.model_dump()})


# The brief: what the layout engine (adgenesis/engines/layout.py) turns into a `Design`. In the default ("brief")
# mode the design LLM writes its headline, supporting line and palette (`ModelCopy`), from the request's own spans
# (engines/copy.py); the CTA, the fine print and what the photo shows come from the brief's facts.
BRIEF_LIMITS = {"headline": 60, "subline": 90, "cta": 24, "image": MAX_DESCRIPTION_CHARS, "fine_print": MAX_TEXT_CHARS}


class Brief(BaseModel):
    model_config = ConfigDict(extra="forbid")
    headline: str = Field(min_length=1, max_length=BRIEF_LIMITS["headline"], description="names the product, brand or offer")
    subline: str = Field("", max_length=BRIEF_LIMITS["subline"], description="one supporting line, or none")
    cta: str = Field(min_length=1, max_length=BRIEF_LIMITS["cta"], description="the button's words")
    image: str = Field(min_length=1, max_length=BRIEF_LIMITS["image"], description="what the photo shows")
    palette: str = Field(description="a palette of configs/design/layout.yaml: a mood or brand colours")
    fine_print: str = Field("", max_length=BRIEF_LIMITS["fine_print"], description="every offer's terms, verbatim")


class ModelCopy(BaseModel):
    """What the design LLM writes in brief mode: the words and the look; decoded under `copy.CopyWords`'s grammar."""

    model_config = ConfigDict(extra="forbid")
    headline: str = Field(min_length=1, max_length=BRIEF_LIMITS["headline"])
    subline: str = Field("", max_length=BRIEF_LIMITS["subline"])
    palette: str


def layout_json_schema(canvas: Canvas | None = None) -> dict[str, Any]:
    """JSON Schema for `LayoutBody`, with coordinates bounded by the canvas when one is given.

    The bounds let a grammar-constrained decoder keep every element's corner on the canvas; that an
    element's far edge stays inside too (x + width <= W) is not expressible here, so `repair` clips it.
    """
    schema = LayoutBody.model_json_schema()
    # A model writes a bundled family; an uploaded font is the layout engine's to place (a kit's).
    schema["$defs"]["TextElement"]["properties"]["font_family"] = {"type": "string", "enum": list(FONT_FAMILIES)}
    if canvas is None:
        return schema
    for name in ("TextElement", "ShapeElement", "ImageElement"):
        props = schema["$defs"][name]["properties"]
        props["x"]["maximum"] = canvas.width - 1
        props["y"]["maximum"] = canvas.height - 1
        props["width"]["maximum"] = canvas.width
        props["height"]["maximum"] = canvas.height
    return schema


def repair(raw: dict[str, Any], canvas: Canvas) -> dict[str, Any]:
    """Clip what a grammar cannot enforce: string lengths, element count, boxes past the canvas edge.

    Only shrinks or truncates; never invents content. The result still has to pass `Design` validation.
    """
    out = dict(raw)
    elements = []
    for el in list(raw.get("elements", []))[:MAX_ELEMENTS]:
        el = dict(el)
        blank = False
        for key, limit in (("text", MAX_TEXT_CHARS), ("description", MAX_DESCRIPTION_CHARS)):
            if isinstance(el.get(key), str):
                el[key] = el[key].strip()[:limit]
                blank = blank or not el[key]
        if blank:  # an element with nothing to show is dropped, not padded
            continue
        if all(type(el.get(k)) is int for k in ("x", "y", "width", "height")):
            el["x"] = min(max(el["x"], 0), canvas.width - 1)
            el["y"] = min(max(el["y"], 0), canvas.height - 1)
            el["width"] = max(1, min(el["width"], canvas.width - el["x"]))
            el["height"] = max(1, min(el["height"], canvas.height - el["y"]))
        elements.append(el)
    out["elements"] = elements
    return out
