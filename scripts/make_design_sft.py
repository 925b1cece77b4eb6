"""Generate the design SFT set: (prompt, platform, format) -> the ad brief the design LLM writes.

    .venv/bin/python scripts/make_design_sft.py

Writes data/design_sft/train.jsonl and validation.jsonl from two data files beside them: products.yaml
(hand-written fictional products, brands and campaigns) and wording.yaml (how marketers phrase a request).
Deterministic: a fixed seed, no clock, no set iteration; running it twice gives byte-identical files.

An example:
  1. a product, an offer it supports (discount, free trial, launch, event, free shipping, matched gifts, none)
     and a random subset of details (deadline, audience, mood, brand colours, CTA wording, headline copy);
  2. the request, written in one of four voices (sentences, terse spec, casual, brief form);
  3. the copy the model learns (`adgenesis.schema.ModelCopy`): a headline and supporting line made only of whole
     spans of the request and the vocabulary, exactly what the serving grammar admits (`engines.copy`), chosen
     as a designer would from what the generator knows of the request (the copy it asked for, the offer, the
     product, the selling point, the deadline), and the palette (the requested colours, else the mood);
  4. the gate: the layout engine lays the copy out on the canvas with the request's CTA, fine print and photo
     (`engines.design.lay_out_copy`), and that layout must pass every quality check against the request; the
     next best copy is tried, and a request no copy passes for is drawn again.

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

from adgenesis.engines.copy import candidates, composed  # noqa: E402
from adgenesis.engines.copy import rules as copy_rules  # noqa: E402
from adgenesis.engines.design import copy_for, lay_out_copy  # noqa: E402
from adgenesis.engines.layout import LayoutError  # noqa: E402
from adgenesis.engines.lexicon import alternation, lexicon  # noqa: E402
from adgenesis.engines.quality import check  # noqa: E402
from adgenesis.schema import CANVAS_PRESETS, ModelCopy, canvas_for  # noqa: E402

SEED = 20240611
TRAIN_PER_PAIR = 80
VAL_PER_PAIR = 6
# The share of each language's briefs: English most, as the product's users write; every language trained on.
LANGUAGE_WEIGHTS = {"en": 0.4, "es": 0.12, "de": 0.12, "fr": 0.12, "pt": 0.12, "it": 0.12}
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


WORDING = {"en": load("wording.yaml") | {"color_palettes": COLOR_PALETTES,
                                         "terse_fallbacks": ["make it pop", "nothing fancy", "standard layout"]},
           **{lang: load(f"wording/{lang}.yaml") for lang in LANGUAGE_WEIGHTS if lang != "en"}}
PRODUCTS: list[dict] = load("products.yaml")["products"]
LOCAL = load("products_i18n.yaml")["products"]  # brand -> language -> the product's words in that language


def localized(p: dict, language: str) -> dict:
    """The product as a brief in `language` names it: its words in that language, its brand as it is."""
    return p if language == "en" else p | LOCAL[p["brand"]][language]


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def draw_details(rng: random.Random, p: dict, W: dict) -> dict:
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


def write_prompt(rng: random.Random, p: dict, d: dict, platform: str, fmt: str, W: dict) -> str:
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
        frags = frags or [rng.choice(W["terse_fallbacks"]) if "terse_fallbacks" in W
                          else rng.choice(W["mood_words"][d["mood"]])]
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


def asking(language: str) -> re.Pattern:
    """Words of the request itself ("campaign", "promo", "Anzeige"): a target that says them reads as the ask."""
    lex = lexicon(language)
    words = (*lex.placement, *lex.labels, *lex.meta.tone, *lex.meta.audience, "campaign", "promo", "launch", "deal",
             "mention")
    return re.compile(rf"(?<![\w])(?:{alternation(words)})s?(?![\w])", re.IGNORECASE)


def preference(p: dict, d: dict, headline: str, subline: str, asked: re.Pattern) -> tuple:
    """How a designer who knows what the request is about ranks a (headline, supporting line) of its spans: the
    copy it asked for, the offer, the product, then a line with the selling point, the deadline or the brand."""
    h, sub = headline.casefold(), subline.casefold()
    item = p["item"].removeprefix("new ").casefold()
    return (
        not asked.search(h) and not asked.search(sub),  # no word of the request itself ("campaign", "promo")
        bool(d["headline"]) and d["headline"].casefold() in h,
        d["offer"] not in ("none", "launch", "event") and any(c.isdigit() for c in h) or "free" in h,
        item in h or p["brand"].casefold() in h,
        bool(d["fact"]) and d["fact"].rstrip(".").casefold() in sub,
        bool(d["deadline"]) and d["deadline"][0].casefold() in sub,
        p["brand"].casefold() in sub,
        bool(sub),
        -len(h),
    )


class Unfit(Exception):
    """No copy of this request passes the checks on its canvas (e.g. a code and a deadline on a thumbnail, which
    has room for a headline only): the request is drawn again, and counted."""


def write_copy(p: dict, d: dict, prompt: str, platform: str, fmt: str, variant: int, W: dict) -> dict:
    """The best-ranked copy of the request's spans whose layout passes every check on its canvas; Unfit if none.
    The request is read as serving reads it (its language detected), so the target is what the grammar admits."""
    copy = copy_for(prompt)
    canvas = canvas_for(platform, fmt)
    palette = W["color_palettes"][d["colors"]] if d["colors"] else d["mood"]
    asked = asking(copy.facts.language)
    # Only what the serving grammar lets the model choose (`copy_json_schema`): its first candidates of each.
    ranked, k = candidates(copy.facts, copy.words), copy_rules().candidates
    allowed_h = {h.casefold() for h in ranked.headlines[:k["headline"]]}
    allowed_s = {s.casefold() for s in ranked.sublines[:k["subline"]]} | {""}
    pairs = sorted((hs for hs in composed(copy.facts, copy.words)
                    if hs[0].casefold() in allowed_h and hs[1].casefold() in allowed_s),
                   key=lambda hs: preference(p, d, *hs, asked), reverse=True)
    for headline, subline in pairs:
        try:
            design = lay_out_copy(headline, subline, palette, canvas, copy, variant)
        except LayoutError:
            continue
        if check(design, copy.facts).passed:
            return ModelCopy(headline=headline, subline=subline, palette=palette).model_dump(mode="json")
    raise Unfit(f"no copy passes on {platform}/{fmt}: {prompt}")


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
                    language = rng.choices(list(LANGUAGE_WEIGHTS), weights=list(LANGUAGE_WEIGHTS.values()))[0]
                    W, p = WORDING[language], localized(deck.pop(), language)
                    d = draw_details(rng, p, W)
                    prompt = write_prompt(rng, p, d, platform, fmt, W)
                    if prompt in seen:
                        continue
                    seen.add(prompt)
                    try:
                        response = write_copy(p, d, prompt, platform, fmt, made, W)
                    except Unfit:
                        UNFIT[split] += 1
                        continue
                    row = {"prompt": prompt, "platform": platform, "format": fmt, "language": language,
                           "response": response}
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
    print("languages:", dict(Counter(r["language"] for r in train + validation).most_common()))
    for key in ("headline", "subline"):
        lengths = sorted(len(r["response"][key]) for r in train + validation)
        print(f"{key} chars: median {lengths[len(lengths) // 2]}, max {lengths[-1]}")
    for name, digest in digests.items():
        print(f"sha256 {name}.jsonl {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
