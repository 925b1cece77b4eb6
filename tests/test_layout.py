"""The layout engine (brief -> Design) and the brief mode of engines/design.py, without Ray or a model."""

import json

import pytest

from adgenesis.engines import fonts
from adgenesis.engines.design import build_messages, copy_for, copy_json_schema, finish, parse_copy, response_format
from adgenesis.engines.layout import (
    COMPOSITIONS,
    LayoutError,
    composition_for,
    lay_out,
    palette_names,
    readable,
    rules,
)
from adgenesis.colors import contrast_ratio, rgb
from adgenesis.engines.quality import check
from adgenesis.schema import CANVAS_PRESETS, Brief, TextElement, canvas_for

PAIRS = [(p, f) for p, fmts in CANVAS_PRESETS.items() for f in fmts]
PROMPT = ("Instagram post for Stride Labs: 30% off shoes this weekend, on orders over $80 for members only. "
          "Carbon-plate speed for race day")


def brief(**kw) -> Brief:
    return Brief(**({"headline": "Stride Labs: 30% off shoes", "subline": "Carbon-plate speed for race day",
                     "cta": "Shop now", "image": "carbon-plate running shoes", "palette": "energetic",
                     "fine_print": "This weekend. On orders over $80 for members only."} | kw))


@pytest.mark.parametrize("platform,fmt", PAIRS)
def test_every_canvas_and_palette_gives_a_layout_that_passes_every_check(platform, fmt):
    canvas = canvas_for(platform, fmt)
    for variant, palette in enumerate(palette_names()):
        design = lay_out(brief(palette=palette), canvas, variant)
        report = check(design, PROMPT)
        assert report.passed, (palette, variant, report.problems)
        assert 3 <= len(design.elements) <= 8
        fine = [el for el in design.elements if isinstance(el, TextElement) and el.role == "fine_print"]
        assert [el.text for el in fine] == [brief().fine_print]  # on every canvas, the leaderboard included


def test_every_composition_is_used_by_some_canvas():
    used = {composition_for(canvas_for(p, f), palette) for p, f in PAIRS for palette in ("bold", "minimal")}
    assert used == set(COMPOSITIONS)


def test_text_is_sized_with_the_real_font_to_fill_its_box():
    design = lay_out(brief(), canvas_for("instagram", "story"))
    head = next(el for el in design.elements if isinstance(el, TextElement) and el.role == "headline")
    lines = fonts.wrap(head.text, head.font_family, head.font_size, head.font_weight, head.width)
    assert lines and fonts.block_height(len(lines), head.font_size) <= head.height
    # Fitted, not guessed: the next size up would not fit the same box height in as many lines.
    bigger = fonts.fit_size(head.text, head.font_family, head.font_weight, head.width, head.height,
                            head.font_size + 40, head.font_size + 1, 3)
    assert bigger is None or bigger[0] <= head.font_size + 40


def test_a_headline_or_cta_too_long_for_its_canvas_is_a_layout_error_never_cut():
    long = "Fifty-six characters of headline words here, all of them"
    try:  # whole, or not at all
        head = lay_out(brief(headline=long), canvas_for("display", "leaderboard")).elements[1]
        assert head.text == long
    except LayoutError as exc:
        assert "headline" in str(exc)
    with pytest.raises(LayoutError, match="headline"):
        lay_out(brief(headline="Pneumonoultramicroscopicsilicovolcanoconiosis sale"), canvas_for("display", "skyscraper"))
    with pytest.raises(LayoutError, match="CTA"):
        lay_out(brief(cta="Reservierungsbestätigungen"[:24]), canvas_for("display", "skyscraper"))


def test_the_fine_print_is_at_the_smallest_legible_size_in_a_band_of_its_own():
    for platform, fmt in PAIRS:
        design = lay_out(brief(), canvas_for(platform, fmt))
        fine = next(el for el in design.elements if isinstance(el, TextElement) and el.role == "fine_print")
        floor = max(check.__globals__["default_rules"]().text_min_px,
                    check.__globals__["default_rules"]().text_min_fraction * min(design.width, design.height))
        assert fine.font_size == -(-floor // 1)  # ceil: legible, and no larger
        others = [el for el in design.elements if el is not fine and el.type != "shape"]
        assert all(el.y + el.height <= fine.y + 1 for el in others if el.type == "text"), (platform, fmt)


def test_the_subline_is_left_out_where_there_is_no_room():
    roles = [el.role for el in lay_out(brief(), canvas_for("display", "medium_rectangle")).elements
             if isinstance(el, TextElement)]
    assert roles == ["headline", "cta", "fine_print"]


def test_same_brief_canvas_and_variant_give_the_same_layout_and_variants_differ():
    canvas = canvas_for("meta", "square")
    assert lay_out(brief(), canvas, 3) == lay_out(brief(), canvas, 3)
    assert lay_out(brief(), canvas, 0).background_color != lay_out(brief(), canvas, 1).background_color


def test_unknown_palette_is_a_layout_error_naming_the_known_ones():
    with pytest.raises(LayoutError, match="energetic"):
        lay_out(brief(palette="neon-sunset"), canvas_for("meta", "square"))


def test_readable_keeps_a_good_colour_and_replaces_a_bad_one():
    assert readable("#111111", "#FFFFFF", large=False) == "#111111"
    assert readable("#FFFFFF", "#F5F5F0", large=False) == "#111111"
    # A mid purple where neither near-black nor white reaches 4.5:1: only pure black does.
    fixed = readable("#FFFFFF", "#7B6CD9", large=False)
    assert contrast_ratio(rgb(fixed), rgb("#7B6CD9")) >= 4.5


def test_every_palette_in_the_rules_is_usable():
    for name, palette in rules().palettes.items():
        assert palette.colors and palette.fonts, name


# ---- brief mode of engines/design.py --------------------------------------------------------------


def test_the_copy_schema_only_allows_the_briefs_spans_and_known_palettes():
    copy = copy_for(PROMPT)
    schema = copy_json_schema(copy)
    assert schema["properties"]["palette"]["enum"] == palette_names()
    assert list(schema["properties"]) == ["headline", "subline", "palette"]
    assert response_format(canvas_for("meta", "square"), copy)["json_schema"]["name"] == "ad_copy"
    import re
    headline = re.compile(schema["properties"]["headline"]["pattern"])
    assert headline.fullmatch("30% off shoes") and headline.fullmatch("30% off shoes at Stride Labs")
    assert not headline.fullmatch("30% off all shoes") and not headline.fullmatch("Free shoes")


def test_brief_prompt_is_short_and_free_prompt_is_the_layout_one():
    canvas = canvas_for("meta", "square")
    assert len(build_messages("x", canvas)[0]["content"]) < 60
    assert "layout" in build_messages("x", canvas, "free")[0]["content"]


def test_parse_copy_collapses_whitespace_and_refuses_extra_keys():
    parsed = parse_copy(json.dumps({"headline": "  30% off   shoes ", "subline": "", "palette": "bold"}))
    assert parsed.headline == "30% off shoes"
    with pytest.raises(LayoutError, match="cta"):
        parse_copy(json.dumps({"headline": "30% off shoes", "subline": "", "palette": "bold", "cta": "Buy"}))


def test_finish_in_brief_mode_lays_out_with_the_briefs_cta_and_fine_print_or_raises_layout_error():
    canvas, copy = canvas_for("x", "landscape"), copy_for(PROMPT)
    answer = {"headline": "30% off shoes", "subline": "Stride Labs", "palette": "energetic"}
    design, repaired = finish(json.dumps(answer), canvas, copy)
    texts = {el.role: el.text for el in design.elements if isinstance(el, TextElement)}
    assert (design.width, design.height) == (1600, 900) and not repaired
    assert texts["cta"] == "Shop now" and "On orders over $80" in texts["fine_print"]
    with pytest.raises(LayoutError, match="token budget"):
        finish('{"headline": "30% off', canvas, copy, finish_reason="length")
    # An upstream model that ignored the grammar: laid out, and the check finds the words.
    ignored = finish(json.dumps(answer | {"headline": "Free shoes for everyone"}), canvas, copy).design
    assert not check(ignored, copy.facts).checks["grounded"]
