"""The design-spec schema: presets, canvas checks, colours, the JSON Schema and repairs; the bundled briefs."""

import json

import pytest
from pydantic import ValidationError

from adgenesis.engines.design import LayoutError, finish
from adgenesis.paths import DATA_DIR
from adgenesis.schema import CANVAS_PRESETS, Brief, Design, UnknownCanvas, canvas_for, layout_json_schema, repair


def text(**kw):
    el = {"type": "text", "text": "Hello", "x": 10, "y": 10, "width": 200, "height": 60, "font_family": "Inter",
          "font_size": 40, "font_weight": "bold", "color": "#ffffff", "align": "left"}
    return el | kw


def layout(*elements, bg="#112233"):
    return {"background_color": bg, "elements": list(elements)}


def test_every_bundled_brief_validates_and_validation_holds_out_products():
    briefs = {}
    for split in ("train", "validation"):
        rows = [json.loads(line) for line in (DATA_DIR / "design_sft" / f"{split}.jsonl").read_text().splitlines()]
        for row in rows:
            canvas_for(row["platform"], row["format"])
            Brief.model_validate(row["response"])
        briefs[split] = rows
    assert len(briefs["train"]) + len(briefs["validation"]) >= 1000
    # No validation prompt paraphrases a training one: their images (one per product) never meet.
    assert not {r["response"]["image"] for r in briefs["train"]} & {r["response"]["image"] for r in briefs["validation"]}


def test_bundled_layouts_cover_every_preset():
    seen = set()
    for line in (DATA_DIR / "design_sft" / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        seen.add((row["platform"], row["format"]))
    assert seen == {(p, f) for p, fmts in CANVAS_PRESETS.items() for f in fmts}


def test_off_canvas_element_is_rejected_with_its_index():
    canvas = canvas_for("meta", "square")
    with pytest.raises(ValidationError, match=r"elements\.1 \(text\).*leaves the 1080x1080 canvas"):
        Design.from_layout(layout(text(), text(x=1000, width=200)), canvas)


@pytest.mark.parametrize("colour", ["#12345", "#1234567", "red", "#GGGGGG", "112233"])
def test_bad_hex_is_rejected_naming_the_field(colour):
    canvas = canvas_for("meta", "square")
    with pytest.raises(ValidationError) as exc:
        Design.from_layout(layout(text(color=colour)), canvas)
    assert "elements.0.text.color" in str(exc.value)
    with pytest.raises(ValidationError, match="background_color"):
        Design.from_layout(layout(text(), bg=colour), canvas)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(UnknownCanvas, match="known"):
        canvas_for("myspace", "square")
    with pytest.raises(UnknownCanvas, match="medium_rectangle"):
        canvas_for("display", "square")


def test_json_schema_bounds_coordinates_by_canvas():
    schema = layout_json_schema(canvas_for("display", "leaderboard"))
    props = schema["$defs"]["TextElement"]["properties"]
    assert props["x"]["maximum"] == 727 and props["height"]["maximum"] == 90
    assert schema["properties"]["elements"]["maxItems"] == 6


def test_repair_clips_boxes_and_drops_blank_text():
    canvas = canvas_for("meta", "square")
    fixed = repair(layout(text(x=1000, width=500, text="a" * 200), text(text="   ")), canvas)
    assert len(fixed["elements"]) == 1
    el = fixed["elements"][0]
    assert el["x"] + el["width"] <= 1080 and len(el["text"]) == 90
    Design.from_layout(fixed, canvas)


def test_finish_never_returns_an_invalid_layout():
    canvas = canvas_for("meta", "square")
    with pytest.raises(LayoutError, match="token budget"):
        finish('{"background_color": "#fff', canvas, "free", "length")
    with pytest.raises(LayoutError, match="background_color"):
        finish(json.dumps(layout(text(), bg="white")), canvas, "free")
    assert finish(json.dumps(layout(text(x=1070, width=100))), canvas, "free").design.elements[0].width == 10
