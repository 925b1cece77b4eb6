"""Generate the design SFT set: (prompt, platform, format) -> the ad brief the design LLM writes.

    .venv/bin/python scripts/make_design_sft.py

Writes data/design_sft/train.jsonl and validation.jsonl from two data files beside them: products.yaml
(hand-written fictional products, brands and campaigns) and wording.yaml (how marketers phrase a request).
Deterministic: a fixed seed, no clock, no set iteration; running it twice gives byte-identical files.

An example:
  1. a product, an offer it supports (discount, free trial, launch, event, free shipping, matched gifts, none)
     and a random subset of details (deadline, audience, mood, brand colours, CTA wording, headline copy);
  2. the request, written in one of four voices (sentences, terse spec, casual, brief form);
  3. the brief (`adgenesis.schema.Brief`): headline, supporting line and CTA derived from the offer and the
     details, what the product photo shows, and the palette (the requested colours, else the mood);
  4. the gate: the layout engine turns the brief into a layout on the canvas, and that layout must pass
     every quality check (`adgenesis.engines.quality`) against the request. Any failure aborts.

Validation holds out whole products (every VAL_EVERY-th one), so no validation prompt paraphrases a
training prompt; both splits cover every (platform, format) pair.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from adgenesis.engines import facts  # noqa: E402
from adgenesis.engines.copy import ground, lead_with_offer  # noqa: E402
from adgenesis.engines.layout import LayoutError, lay_out  # noqa: E402
from adgenesis.engines.quality import check, content_words, default_rules  # noqa: E402
from adgenesis.schema import BRIEF_LIMITS, CANVAS_PRESETS, Brief, canvas_for  # noqa: E402

SEED = 20240611
TRAIN_PER_PAIR = 60
VAL_PER_PAIR = 5
VAL_EVERY = 6  # every 6th product is held out for validation
OUT_DIR = REPO_ROOT / "data" / "design_sft"
COLOR_PALETTES = {  # how a request names brand colours -> the palette name in configs/design/layout.yaml
    "navy and gold": "navy_gold", "black with neon green": "black_neon", "pastel pink and mint": "pastel_mint",
    "forest green and cream": "forest_cream", "red and white": "red_white", "teal and coral": "teal_coral",
    "orange and charcoal": "orange_charcoal", "sky blue and white": "sky_white",
    "purple and yellow": "purple_yellow", "black and white only": "black_white",
    "burgundy and blush": "burgundy_blush",
}


def load(name: str) -> dict:
    return yaml.safe_load((OUT_DIR / name).read_text())


W = load("wording.yaml")
PRODUCTS: list[dict] = load("products.yaml")["products"]


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def draw_details(rng: random.Random, p: dict) -> dict:
    """What this marketer asks for, beyond the product."""
    offer = rng.choice(p["offers"])
    if offer == "discount":  # a product that sells at a discount also sells with a code, or at a price
        offer = rng.choices(["discount", "code", "price"], weights=[5, 3, 2])[0]
    pct = rng.choice(W["percents"]) if offer in ("discount", "code") else 0
    d = {"offer": offer, "pct": pct, "days": rng.choice(W["trial_days"]) if offer == "trial" else 0,
         "code": rng.choice(W["codes"]).format(pct=pct, BRAND=re.sub(r"\W", "", p["brand"].split()[0]).upper()),
         "price": rng.choice(W["prices"]), "deadline": None, "audience": None, "mood": p["moods"][0],
         "mood_word": None, "colors": None, "cta": None, "headline": None, "fact": None}
    if offer in ("discount", "code", "price", "shipping", "match") and rng.random() < 0.5:
        d["deadline"] = rng.choice(W["deadlines"])
    if rng.random() < 0.35:  # the product's selling point, in the request: the only way it may reach the copy
        d["fact"] = p["benefit"]
    if rng.random() < 0.5:
        d["audience"] = rng.choice(p["audiences"])
    if rng.random() < 0.6:
        d["mood"] = rng.choice(p["moods"] + [rng.choice(sorted(W["mood_words"]))])
        d["mood_word"] = rng.choice(W["mood_words"][d["mood"]])
    if rng.random() < 0.3:
        d["colors"] = rng.choice(W["color_requests"])
    if rng.random() < 0.25:
        d["cta"] = p["ctas"][1]
    if offer not in ("discount", "trial") and rng.random() < 0.2:
        d["headline"] = p["tagline"]
    return d


def write_prompt(rng: random.Random, p: dict, d: dict, platform: str, fmt: str) -> str:
    fmt_phrase = (rng.choice(W["generic_format_phrases"]) if rng.random() < 0.15
                  else rng.choice(W["format_phrases"][f"{platform}/{fmt}"]))
    what = rng.choice(W["what_forms"]).format(possessive=possessive(p["brand"]), item=p["item"], brand=p["brand"])
    event = p.get("event", ["", ""])
    slots = dict(pct=d["pct"], days=d["days"], noun=p.get("noun", ""), event=event[0], brand=p["brand"],
                 d=d["deadline"][0] if d["deadline"] else "", a=d["audience"] or "", m=d["mood_word"] or "",
                 c=d["colors"] or "", cta=d["cta"] or "", h=d["headline"] or "", code=d["code"], price=d["price"],
                 f=d["fact"] or "")
    keys = [k for k in ("audience", "mood", "colors", "cta", "headline", "fact")
            if d["mood_word" if k == "mood" else k]]
    rng.shuffle(keys)
    if d["deadline"]:  # the deadline belongs right after the offer
        keys.insert(0, "deadline")

    style = rng.choices(["sentences", "terse", "casual", "brief"], weights=[5, 2, 2, 1])[0]
    if style == "terse":
        frags = [W["offer_fragments"][d["offer"]].format(**slots)] if d["offer"] != "none" else []
        frags += [W["detail_fragments"][k].format(**slots) for k in keys]
        frags = frags or [rng.choice(["make it pop", "nothing fancy", "standard layout"])]
        return rng.choice(W["terse_templates"]).format(Fmt=cap(fmt_phrase), fmt=fmt_phrase, What=cap(what),
                                                       what=what, frags=", ".join(frags))
    sentences = [rng.choice(W["offer_sentences"][d["offer"]]).format(**slots)] if d["offer"] != "none" else []
    sentences += [rng.choice(W["detail_sentences"][k]).format(**slots) for k in keys]
    details = " ".join(sentences)
    if style == "sentences":
        return cap(f"{rng.choice(W['sentence_openers']).format(fmt=fmt_phrase, what=what)} {details}".strip())
    if style == "casual":
        if rng.random() < 0.5:  # typed in a hurry: no capitals at sentence starts
            details = " ".join(s[:1].lower() + s[1:] for s in sentences)
        opener = rng.choice(W["casual_openers"]).format(fmt=fmt_phrase, what=what)
        return f"{opener} {details}".strip() + rng.choice(W["casual_closers"])
    return rng.choice(W["brief_templates"]).format(what=cap(what), fmt=fmt_phrase, brand=p["brand"],
                                                   item=p["item"], details=details).strip()


def first_fitting(candidates: list[str], limit: int) -> str:
    return next(c for c in candidates if c and len(c) <= limit)


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary (what the photo shows can lose its last details)."""
    words, out = text.split(), ""
    for w in words:
        if len(f"{out} {w}".strip()) > limit:
            break
        out = f"{out} {w}".strip()
    return out


def on_topic(headline: str, prompt: str) -> bool:
    """The quality check's rule: the headline shares a content word with the request."""
    return bool(content_words(headline, default_rules()) & content_words(prompt, default_rules()))


def write_brief(p: dict, d: dict, prompt: str) -> dict:
    """The copy and look a designer would derive from the request."""
    brand, noun = p["brand"], p.get("noun") or p["item"]
    deadline = d["deadline"][1] if d["deadline"] else None
    offer = d["offer"]
    item = p["item"].removeprefix("new ")
    pct, code, price = d["pct"], d["code"], d["price"]
    headlines = {
        "discount": [f"{d['pct']}% off {noun}", f"{d['pct']}% off at {brand}", f"Save {d['pct']}%"],
        "code": [f"{pct}% off with code {code}", f"{pct}% off {noun}", f"Save {pct}%"],
        "price": [f"{cap(item)} from ${price}", f"{brand}, from ${price}", f"From ${price}"],
        "trial": [f"Try {brand} free for {d['days']} days", f"{d['days']} days of {brand}, free",
                  f"{d['days']}-day free trial"],
        "launch": [f"New: {item}", f"New from {brand}"],
    }.get(offer, [])
    # Words the request itself says (brand, product) before the product's own tagline: a model that learns to
    # copy them stays on topic for products it never saw; one that learns taglines invents them.
    headlines = [d["headline"]] + headlines + [f"{brand}: {p['short']}", cap(item), p["tagline"], p["short"], brand]
    sub = {
        "discount": [f"{deadline}. {p['benefit']}" if deadline else None, deadline, p["benefit"]],
        "launch": [f"Just launched. {p['benefit']}", p["benefit"]],
        "event": [p.get("event", ["", ""])[1], p["benefit"]],
        "shipping": [f"Free shipping on every order. {deadline}." if deadline else None,
                     f"Free shipping on every order. {p['benefit']}", "Free shipping on every order."],
        "match": [f"Every gift matched 2x. {deadline}." if deadline else None,
                  f"Every gift matched 2x. {p['benefit']}", "Every gift matched 2x."],
        "code": [f"Use code {code}. {deadline}." if deadline else None, f"Use code {code}. {p['benefit']}",
                 f"Use code {code} at checkout."],
        "price": [f"Only ${price}. {deadline}." if deadline else None, f"Only ${price}. {p['benefit']}",
                  f"Only ${price}."],
    }.get(offer, []) + [p["benefit"], f"{cap(item)} from {brand}.", f"From {brand}."]
    # Only what the request gives: a selling point with a number the request never said is an invented claim.
    given, stated = facts.facts_of(prompt, number_words=True), facts.offer_of(prompt)
    sub = [s for s in sub if s and not facts.ungrounded(s, given) and not facts.distorted(s, stated)]
    if d["cta"]:
        cta = d["cta"]
    elif offer == "trial" and not any(w in p["ctas"][0].lower() for w in ("free", "trial")):
        cta = "Start free trial"  # a trial offer needs a trial button, not "Book a demo"
    else:
        cta = p["ctas"][0]
    return {
        "headline": first_fitting([h for h in headlines if h and on_topic(h, prompt) and not facts.ungrounded(h, given)],
                                  BRIEF_LIMITS["headline"]),
        "subline": first_fitting(sub, BRIEF_LIMITS["subline"]),
        "cta": cta,
        "image": shorten(p["image"], BRIEF_LIMITS["image"]),
        "palette": COLOR_PALETTES[d["colors"]] if d["colors"] else d["mood"],
    }


class Unfit(Exception):
    """No brief for this request passes the checks on its canvas (e.g. a code and a deadline on a thumbnail, which
    has room for a headline only): the request is drawn again, and counted."""


def gate(row: dict, variant: int) -> dict:
    """The brief must be valid, and its layout must pass every quality check for its request. The copy goes through
    what the serving path does to a model's brief (`copy.ground`, `copy.lead_with_offer`), so the model learns
    the briefs the path would keep as they are."""
    canvas = canvas_for(row["platform"], row["format"])
    try:
        brief, _ = ground(Brief.model_validate(row["response"]), row["prompt"])
        design = lay_out(brief, canvas, variant=variant)
        if led := lead_with_offer(brief, row["prompt"], design):
            brief, design = led, lay_out(led, canvas, variant=variant)
    except (ValueError, LayoutError) as exc:
        raise Unfit(f"{exc}\n{json.dumps(row)}") from None
    report = check(design, row["prompt"])
    if not report.passed:
        raise Unfit(f"example fails the quality checks: {report.problems}\n{json.dumps(row)}")
    return brief.model_dump(mode="json")  # the schema's key order: the order the LLM decodes in


UNFIT: Counter = Counter()


def generate() -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    val_products = PRODUCTS[VAL_EVERY - 1::VAL_EVERY]
    train_products = [p for p in PRODUCTS if p not in val_products]
    seen: set[str] = set()
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    for split, products, per_pair in (("train", train_products, TRAIN_PER_PAIR),
                                      ("validation", val_products, VAL_PER_PAIR)):
        deck: list[dict] = []
        for platform, formats in CANVAS_PRESETS.items():
            for fmt in formats:
                made = 0
                while made < per_pair:
                    if not deck:  # deal products evenly: every product before any repeats
                        deck = list(products)
                        rng.shuffle(deck)
                    p = deck.pop()
                    d = draw_details(rng, p)
                    prompt = write_prompt(rng, p, d, platform, fmt)
                    if prompt in seen:
                        continue
                    seen.add(prompt)
                    row = {"prompt": prompt, "platform": platform, "format": fmt, "response": write_brief(p, d, prompt)}
                    try:
                        row["response"] = gate(row, variant=made)
                    except Unfit:
                        UNFIT[split] += 1
                        continue
                    splits[split].append(row)
                    made += 1
    return splits["train"], splits["validation"]


def write_jsonl(path: Path, rows: list[dict]) -> str:
    data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    path.write_text(data, encoding="utf-8")
    return hashlib.sha256(data.encode()).hexdigest()


def main() -> int:
    train, validation = generate()
    digests = {name: write_jsonl(OUT_DIR / f"{name}.jsonl", rows)
               for name, rows in (("train", train), ("validation", validation))}
    total = len(train) + len(validation)
    n_val_products = len(PRODUCTS[VAL_EVERY - 1::VAL_EVERY])
    print(f"{total} examples: train {len(train)} ({len(PRODUCTS) - n_val_products} products), "
          f"validation {len(validation)} ({n_val_products} held-out products)")
    print("requests drawn again (no brief fits their canvas):", dict(UNFIT))
    print("palettes:", dict(Counter(r["response"]["palette"] for r in train + validation).most_common()))
    for key in ("headline", "subline", "cta", "image"):
        lengths = sorted(len(r["response"][key]) for r in train + validation)
        print(f"{key} chars: median {lengths[len(lengths) // 2]}, max {lengths[-1]}")
    for name, digest in digests.items():
        print(f"sha256 {name}.jsonl {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
