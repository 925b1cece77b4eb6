"""The design-spec schema: presets, canvas checks, colours, the JSON Schema and repairs; the bundled briefs."""

import json

import yaml

import pytest
from pydantic import ValidationError

from adgenesis.engines.design import LayoutError, copy_for, finish
from adgenesis.paths import DATA_DIR
from adgenesis.schema import (CANVAS_PRESETS, MAX_ELEMENTS, MAX_TEXT_CHARS, Design, ModelCopy, UnknownCanvas, canvas_for,
                              layout_json_schema, repair)


def text(**kw):
    el = {"type": "text", "text": "Hello", "x": 10, "y": 10, "width": 200, "height": 60, "font_family": "Inter",
          "font_size": 40, "font_weight": "bold", "color": "#ffffff", "align": "left"}
    return el | kw


def layout(*elements, bg="#112233"):
    return {"background_color": bg, "elements": list(elements)}


def test_every_bundled_target_is_its_requests_own_words_and_validation_holds_out_products():
    rows = {split: [json.loads(line) for line in (DATA_DIR / "design_sft" / f"{split}.jsonl").read_text().splitlines()]
            for split in ("train", "validation")}
    for row in rows["train"][::7] + rows["validation"]:
        canvas_for(row["platform"], row["format"])
        target = ModelCopy.model_validate(row["response"])
        words = copy_for(row["prompt"]).words  # what the serving grammar admits for this request
        assert words.allows(target.headline, "headline") and (not target.subline or words.allows(target.subline))
    assert len(rows["train"]) + len(rows["validation"]) >= 1000
    # No validation prompt paraphrases a training one: its products (every 6th) are never in a training prompt.
    products = yaml.safe_load((DATA_DIR / "design_sft" / "products.yaml").read_text())["products"]
    held_out = {p["brand"] for p in products[5::6]}
    assert not any(brand in row["prompt"] for row in rows["train"] for brand in held_out)
    assert all(any(brand in row["prompt"] for brand in held_out) for row in rows["validation"])


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
    assert schema["properties"]["elements"]["maxItems"] == MAX_ELEMENTS


def test_repair_clips_boxes_and_drops_blank_text():
    canvas = canvas_for("meta", "square")
    fixed = repair(layout(text(x=1000, width=500, text="a" * 600), text(text="   ")), canvas)
    assert len(fixed["elements"]) == 1
    el = fixed["elements"][0]
    assert el["x"] + el["width"] <= 1080 and len(el["text"]) == MAX_TEXT_CHARS
    Design.from_layout(fixed, canvas)


def test_finish_never_returns_an_invalid_layout():
    canvas, copy = canvas_for("meta", "square"), copy_for("Stride Labs running shoes")
    with pytest.raises(LayoutError, match="token budget"):
        finish('{"background_color": "#fff', canvas, copy, "free", "length")
    with pytest.raises(LayoutError, match="background_color"):
        finish(json.dumps(layout(text(), bg="white")), canvas, copy, "free")
    assert finish(json.dumps(layout(text(x=1070, width=100))), canvas, copy, "free").design.elements[0].width == 10


def test_free_mode_gets_the_fine_print_in_a_band_below_the_models_layout():
    canvas, copy = canvas_for("meta", "square"), copy_for("Stride Labs running shoes, 30% off until Sunday")
    design = finish(json.dumps(layout(text(y=1000, height=80))), canvas, copy, "free").design
    model, fine = design.elements
    assert fine.role == "fine_print" and fine.text == "Until Sunday." and model.y + model.height <= fine.y
