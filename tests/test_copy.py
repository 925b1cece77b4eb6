"""Ad copy a marketer can publish: facts only from the brief, the offer stated, clean words (engines.facts, .copy,
the grounded/offer/copy checks of engines.quality)."""

import json
import re

import pytest

from adgenesis.engines import facts
from adgenesis.engines.copy import ground, lead_with_offer
from adgenesis.engines.design import brief_json_schema, finish
from adgenesis.engines.layout import lay_out
from adgenesis.engines.quality import check, cta_fits, default_rules
from adgenesis.paths import DATA_DIR
from adgenesis.schema import Brief, canvas_for


def brief(**kw) -> Brief:
    return Brief(**({"headline": "Winter coats", "subline": "Warm layers for cold days.", "cta": "Shop now",
                     "image": "wool coats on a rail", "palette": "bold"} | kw))


@pytest.mark.parametrize("request_text, kinds, numbers", [
    ("Winter coats clearance, up to 60% off", ["percent"], {"60"}),
    ("two large pizzas for $19.99", ["bundle"], {"2", "19.99"}),
    ("a 10-class pass for $99", ["bundle"], {"10", "99"}),
    ("free shipping over $40", ["free"], {"40"}),
    ("14-day free trial", ["free"], {"14"}),
    ("buy one get one free", ["multi_buy"], {"1"}),
    ("3 for $25 this weekend only", ["bundle", "deadline"], {"3", "25"}),
    ("sale ends 11/30", ["deadline"], {"11", "30"}),
    ("use code WELCOME10 at checkout", ["code"], set()),  # a code's digits are not a number of the offer
    ("30% off with code FALL30 until Oct 31", ["percent", "code", "deadline"], {"30", "31"}),
    ("only £12/month", ["price"], {"12"}),
    ("save 25 percent on your first order", ["percent"], {"25"}),
])
def test_the_offer_extractor_reads_many_phrasings(request_text, kinds, numbers):
    offer = facts.offer_of(request_text)
    assert offer.kinds == kinds and set(offer.facts.numbers) == numbers


@pytest.mark.parametrize("request_text", ["A mobile puzzle game, free to play", "We're hiring nurses, $21/hr",
                                          "Engineers wanted, $185k-$215k", "Concert at 7pm on Friday"])
def test_no_offer_where_there_is_none(request_text):
    assert facts.offer_of(request_text) is None


def test_the_offer_extractor_on_held_out_briefs_written_apart_from_it():
    rows = [json.loads(line) for line in (DATA_DIR / "design_eval" / "heldout_briefs.jsonl").open()]
    offers = [r for r in rows if r["offer"]]
    found = complete = 0
    for r in offers:
        if (got := facts.offer_of(r["prompt"])) is not None:
            found += 1
            want = facts.facts_of(r["offer"], number_words=True)
            complete += set(want.numbers) <= set(got.facts.numbers) and want.codes <= got.facts.codes
    assert len(offers) >= 100 and found >= 0.95 * len(offers) and complete >= 0.75 * len(offers), (found, complete)


@pytest.mark.parametrize("ad, bad", [
    ("2 pizzas for $19.99", []), ("30% off", []), ("Code FALL30", []), ("Ends Nov 15", []),
    ("$30 off", ["$30"]), ("Ends Nov 16", ["16"]), ("Ends Dec 15", ["Dec"]), ("Code SAVE20", ["SAVE20"]),
    ("$28k-$54k", ["$28k", "$54k"]), ("1,000+ models", ["1,000"]), ("Ends Sunday", ["Sunday"]),
    ("Just launched. 30% off", ["launched"]), ("New: pizzas for $19.99", ["New"]),
])
def test_an_ad_states_only_the_requests_facts(ad, bad):
    given = facts.facts_of("two large pizzas for $19.99, 30% off, code FALL30 ends Nov 15", number_words=True)
    assert facts.ungrounded(ad, given) == bad


def test_names_and_misspellings():
    names = facts.names_of("hey! an ad for GreenRoots' compost bins from Bloom Studio? Thanks.")
    assert {"GreenRoots", "Bloom", "Studio"} <= names and "Thanks" not in names
    assert facts.misspelt("GreenRoights compost", names) == [("GreenRoights", "GreenRoots")]
    assert facts.misspelt("Blooms of GreenRoots, open hours", names | {"Tours"}) == []


def test_decoding_can_only_write_the_requests_numbers():
    schema = brief_json_schema("Two large pizzas for $19.99 at Luigi's")
    pattern = re.compile(schema["properties"]["subline"]["pattern"])
    assert pattern.fullmatch("2 large pizzas for $19.99") and pattern.fullmatch("Two pizzas, one price")
    assert not pattern.fullmatch("Pizzas from $9.99") and not pattern.fullmatch("Open till 11")
    assert not pattern.fullmatch("x" * 61)
    coded = re.compile(brief_json_schema("20% off with code SAVE20")["properties"]["cta"]["pattern"])
    assert coded.fullmatch("Use SAVE20") and coded.fullmatch("Get 20% off") and not coded.fullmatch("Use SAVE30")
    assert "maxLength" in brief_json_schema()["properties"]["subline"]  # without a request: the plain schema


def test_ground_drops_invented_claims_states_the_offer_and_fixes_the_words():
    fixed, fixes = ground(brief(headline="GreenRoights compost", subline="Free shipping on every order.",
                                cta="Shop the shop"), "GreenRoots compost bins, free shipping over $40")
    assert (fixed.headline, fixed.subline) == ("GreenRoots compost", "Free shipping over $40.")
    assert fixed.cta == default_rules().cta_default and fixes
    hiring, _ = ground(brief(headline="Quillory is hiring", subline="Salary $28k-$54k. Remote first.",
                             cta="Book a table"), "Hiring backend engineers at Quillory, remote")
    assert (hiring.subline, hiring.cta) == ("Remote first.", "Apply now")
    launched, _ = ground(brief(subline="Just launched. Warm layers."), "Winter coats clearance at Nordvik")
    assert launched.subline == "Warm layers."
    assert ground(brief(headline="New: winter coats"), "Our new winter coats")[1] == []
    kept, fixes = ground(brief(headline="Up to 60% off coats"), "Winter coats clearance, up to 60% off")
    assert kept == brief(headline="Up to 60% off coats") and fixes == []
    with pytest.raises(ValueError, match="headline"):
        ground(brief(headline="From $39"), "Winter coats clearance")


def test_a_small_canvas_without_a_supporting_line_leads_with_the_offer():
    prompt, canvas = "Winter coats clearance at Nordvik, up to 60% off", canvas_for("display", "leaderboard")
    plain = brief(subline="Up to 60% off.")
    assert "60%" not in json.dumps(lay_out(plain, canvas).model_dump())
    led = lead_with_offer(plain, prompt, lay_out(plain, canvas))
    assert led.headline == "Up to 60% off"
    design, repaired = finish(plain.model_dump_json(), canvas, prompt=prompt)
    assert repaired and check(design, prompt).passed, check(design, prompt).problems


def test_the_checks_fail_invented_facts_a_lost_offer_and_bad_words():
    prompt, canvas = "Pizza Palace: two large pizzas for $19.99, order online", canvas_for("meta", "square")

    def failed(**kw):
        report = check(lay_out(brief(headline="Pizza Palace pizzas", subline="2 large pizzas for $19.99.",
                                     cta="Order now") .model_copy(update=kw), canvas), prompt)
        return {name for name, ok in report.checks.items() if not ok}

    assert failed() == set()
    assert failed(subline="Large pizzas from $9.99.") == {"grounded", "offer"}
    assert failed(headline="Pizza Palce pizzas") == {"grounded"}
    assert failed(subline="Headline: 2 large pizzas for $19.99.") == {"copy"}
    assert failed(subline="2 large large pizzas for $19.99.") == {"copy"}
    assert failed(cta="Book a table") == {"copy"}
    assert cta_fits("Download now", "a language app, Lingora", default_rules())
    assert not cta_fits("Book a table", "a language app, Lingora", default_rules())


def test_every_training_target_states_only_what_its_request_gives():
    for split in ("train", "validation"):
        for line in (DATA_DIR / "design_sft" / f"{split}.jsonl").open():
            row = json.loads(line)
            copy = " ".join(row["response"][k] for k in ("headline", "subline", "cta"))
            assert not facts.ungrounded(copy, facts.facts_of(row["prompt"], number_words=True)), row


def test_ad_sizes_are_not_facts_to_state():
    assert facts.facts_of("a 160x600 skyscraper, a 4:5 Instagram post, 30% off").numbers == {"30": {"%"}}
    pattern = re.compile(facts.digit_pattern("a 970x250 billboard, 30% off", 40))
    assert pattern.fullmatch("30% off today") and not pattern.fullmatch("970x30 billboard")
