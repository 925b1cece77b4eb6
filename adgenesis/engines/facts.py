"""What an ad may state: the facts its request gives (numbers, prices, percentages, dates, times, codes, names)
and the offer it carries. One extractor, shared by decoding (`digit_pattern`), the repair of a brief
(`engines.copy`) and the checks (`engines.quality`).

    facts_of("Winter coats clearance, up to 60% off until Sunday")
    -> Facts(numbers={"60": {"%"}}, words={"sunday"}, codes=set(), names=...)
    offer_of("two large pizzas for $19.99 this weekend only")
    -> Offer(text="two large pizzas for $19.99 this weekend only", numbers={"2", "19.99"}, words={"weekend"}, ...)

A fact of an ad is grounded when its request has it: the same number (with the same unit where the ad gives
one: "30%" needs a 30 given as a percentage, "$30" one given as money), the same month or weekday, the same
code. The request's number words count as digits ("two pizzas" grounds "2 pizzas").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

CURRENCY = "$€£¥₹"
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "half": "50"})
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# An offer's deadline in words; each is stated by any word of its group ("ends midnight tonight" by "Ends tonight").
RELATIVE_DAYS = {"today": "today tonight midnight", "tonight": "today tonight midnight",
                 "midnight": "today tonight midnight", "tomorrow": "tomorrow", "weekend": "weekend"}

# A number as written: "1,000", "19.99", "7:30", "120k", "11/30" (two numbers), not the digits of a code ("SAVE20").
# Its unit: a currency sign before it, "%"/"percent" or am/pm after it.
_NUMBER = re.compile(
    rf"(?P<cur>[{CURRENCY}]\s?)?(?<![A-Za-z\d])(?P<num>\d+(?:[.,:]\d+)*)(?P<k>[kKmM]\b)?\s?(?P<unit>%|percent\b|per cent\b|[ap]\.?m\b\.?)?",
    re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# "New" and "Just launched" are claims too: a product is new only when its request says so.
_LAUNCH = re.compile(r"\b(?:new|launch(?:ed|es|ing)?|introducing|debut(?:s|ing)?|just (?:landed|dropped|released))\b",
                     re.IGNORECASE)
_CODE = re.compile(r"\b(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d)[A-Z0-9]{4,}\b")  # SPRING24, WELCOME10
_CODE_AFTER = re.compile(r"\bcode:?\s+[\"']?(?P<code>[A-Za-z0-9]{3,})", re.IGNORECASE)


def _value(num: str, k: str | None) -> str:
    """'1,000' -> '1000', '19.99' -> '19.99', '120k' -> '120000'; times keep their colon ('7:30')."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", num):
        num = num.replace(",", "")
    if k and re.fullmatch(r"\d+(?:\.\d+)?", num):
        n = float(num) * (1000 if k.lower() == "k" else 1_000_000)
        num = str(int(n)) if n == int(n) else str(n)
    if re.fullmatch(r"\d+\.0+", num):
        num = num.split(".")[0]
    return num


def _unit(m: re.Match) -> str:
    if m["cur"]:
        return m["cur"].strip()
    unit = (m["unit"] or "").lower()
    if unit.startswith(("%", "percent", "per cent")):
        return "%"
    return "time" if unit else ""


@dataclass
class Facts:
    """Facts as values: numbers -> the units they were given with ("" for none), month/weekday words, codes."""

    numbers: dict[str, set[str]] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)  # months (3-letter) and weekdays
    codes: set[str] = field(default_factory=set)  # upper-cased
    launch: bool = False  # says the product is new ("launch", "new", "introducing")

    def add(self, value: str, unit: str) -> None:
        self.numbers.setdefault(value, set()).add(unit)

    def __bool__(self) -> bool:
        return bool(self.numbers or self.words or self.codes or self.launch)


_DIMENSIONS = re.compile(r"\b\d+\s?[x\u00d7]\s?\d+\b|\b\d+:\d+\s+(?=[A-Za-z]*\s*(?:ad|post|creative|frame|banner|image))")


def _without_dimensions(text: str) -> str:
    """The text without ad sizes ("1080x1080", "a 4:5 post"): they place the ad, they are not facts to state."""
    return _DIMENSIONS.sub(" ", text)


def facts_of(text: str, number_words: bool = False) -> Facts:
    """The facts `text` states. `number_words`: "two" counts as 2 (a request's wording, not an ad's copy)."""
    out = Facts()
    text = _without_dimensions(text)
    for m in _NUMBER.finditer(text):  # "11/30" is two numbers
        out.add(_value(m["num"], m["k"]), _unit(m))
    for w in _WORD.findall(text.casefold()):
        if number_words and w in NUMBER_WORDS:
            out.add(NUMBER_WORDS[w], "")
        if w in DAYS:
            out.words.add(w)
        elif w[:3] in MONTHS and (len(w) == 3 or w.startswith(("janu", "febr", "marc", "apri", "june", "july", "augu",
                                                                "sept", "octo", "nove", "dece"))):
            if w != "may" or re.search(r"\bmay\s+\d", text, re.IGNORECASE):  # "may" is a verb far more often
                out.words.add(w[:3])
    out.launch = bool(_LAUNCH.search(text))
    out.codes |= {c.upper() for c in _CODE.findall(text)}
    out.codes |= {m["code"].upper() for m in _CODE_AFTER.finditer(text) if any(ch.isdigit() for ch in m["code"])
                  or m["code"].isupper()}
    return out


def ungrounded(text: str, request: Facts) -> list[str]:
    """The facts of `text` (an ad's copy) its request does not give, as written: ["$28k", "Nov 15"]."""
    out: list[str] = []
    for m in _NUMBER.finditer(text):
        unit, given = _unit(m), request.numbers.get(_value(m["num"], m["k"]), set())
        # A bare number states no unit; "$30" needs a 30 given as money ("30% off" or "30 lattes" do not make it a
        # price); "7pm" is grounded by "7pm" or a bare "7".
        if not given or (unit and unit not in given and not (unit == "time" and "" in given)):
            out.append(m.group(0).strip())
    ad = facts_of(text)
    out += sorted(w.title() for w in ad.words - request.words)
    out += sorted(ad.codes - request.codes)
    if not request.launch and (m := _LAUNCH.search(text)):
        out.append(m.group(0))
    return out


# --------------------------------------------------------------------------------------------------
# Names: brands and products as the request spells them
# --------------------------------------------------------------------------------------------------

_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]*[a-z][A-Za-z]*\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"\u201c(-]\s*)$")


def names_of(text: str) -> set[str]:
    """Capitalised words not at a sentence's start ("Bloom" in "... from Bloom Studio"), and any with an inner
    capital ("GreenRoots"): the request's brands and products, as it spells them."""
    out = set()
    for m in _CAPITALISED.finditer(text):
        word = m.group(0)
        if any(c.isupper() for c in word[1:]) or not _SENTENCE_START.search(text[:m.start()]):
            out.add(word)
    return out


def misspelt(text: str, names: set[str], min_ratio: float = 0.8) -> list[tuple[str, str]]:
    """(as written, as the request spells it) for words of `text` that are near a request name but not it, and
    begin with its letter (a misspelling keeps the first letter; "hours" is not "Tours" misspelt)."""
    out = []
    lowered = {n.casefold(): n for n in names}
    for w in set(_WORD.findall(text)):
        f = w.casefold()
        if len(f) < 5 or f in lowered or f.rstrip("s") in lowered or (f.endswith("'s") and f[:-2] in lowered):
            continue
        for low, name in lowered.items():
            if len(low) >= 5 and f[0] == low[0] and not low.startswith(f) and not f.startswith(low) \
                    and SequenceMatcher(None, f, low).ratio() >= min_ratio:
                out.append((w, name))
                break
    return out


# --------------------------------------------------------------------------------------------------
# The offer
# --------------------------------------------------------------------------------------------------

# Each a phrase marketers use for one kind of offer; the offer is every such phrase of the request, joined.
_OFFER_PARTS = {
    "percent": r"(?:(?:up to|save|extra|take|get)\s+)?\d+(?:\.\d+)?\s?(?:%|percent\b|per cent\b)(?:\s+off\b)?"
               r"(?:\s+(?:on\s+)?(?:your\s+)?(?:first|all|every|sitewide|everything)\b(?:\s+\w+)?)?",
    "bundle": rf"\b(?:\d+|{'|'.join(NUMBER_WORDS)})(?:[- ][a-z]+){{0,3}}\s+for\s+(?:only\s+|just\s+)?[{CURRENCY}]\s?\d+(?:[.,]\d+)*",
    # A price, not a wage or a salary range: none of "$28-$34/hr", "$185k-$215k", "$21/hr".
    "price": rf"(?:(?:only|just|from|for|at|now)\s+)?[{CURRENCY}]\s?\d+(?:[.,]\d+)*(?!\d|[.,]\d|[kK]|\s?(?:-|\u2013|to)\s?"
             rf"[{CURRENCY}]?\d|\s?(?:/|per|an?)\s?(?:hr|hour|day|shift)\b)(?:\s?(?:/|per\s|a\s)\s?"
             r"(?:month|mo|year|yr|week|night|person|couple|class|session)\b)?",
    "free": r"(?:\d+[- ](?:day|week|month|minute|min|hour)s?\s+)?(?:first\s+\w+\s+)?\bfree\b(?:\s+(?!(?:to|for|over|above|on|with|and|is|are|the|a|an|in|at|of|this|that|if|until|ends?)\b)[a-z\-]+){0,2}"
            rf"(?:\s+(?:on\s+orders\s+)?(?:over|above|on orders over|with)\s+[{CURRENCY}]?\d+(?:[.,]\d+)?)?"
            r"(?:\s+for\s+(?:the\s+first\s+)?\d+\s+[a-z]+)?"
            r"|\b(?:first\s+)?(?:month|week|class|lesson|session|drink|coffee)\s+(?:is\s+)?(?:on us|free)\b"
            r"|\b(?:\w+\s+)?half[- ]price\b|\bfor the price of (?:a|an|one)\s+\w+",
    "multi_buy": r"\b(?:buy\s+(?:one|\d+)\s*,?\s*get\s+(?:one|\d+)(?:\s+(?:free|half off|\d+%\s*off))?|bogo"
                 rf"|\d+\s+for\s+(?:\d+|[{CURRENCY}]\s?\d+(?:\.\d+)?))\b",
    "deadline": r"\b(?:(?:sale\s+|offer\s+)?(?:ends|ending|until|till|through|thru|by|before|expires)\s+"
                r"(?:(?:this|next)\s+)?(?:(?:" + "|".join(DAYS) + r"|tonight|today|tomorrow|midnight|weekend)\b"
                r"|(?:" + "|".join(MONTHS) + r")[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?\b|\d{1,2}/\d{1,2}\b)"
                r"|this\s+weekend(?:\s+only)?|today\s+only|\d+\s+days?\s+only|limited[- ]time)",
    "code": r"\b(?:use\s+|with\s+|promo\s+)?code:?\s+[\"']?[A-Za-z0-9]{3,}[\"']?",
}
_OFFER = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _OFFER_PARTS.items()), re.IGNORECASE)


@dataclass
class Offer:
    """The request's offer: its phrases as written (`parts`, `text`) and what stating it takes (`facts`, `free`)."""

    parts: list[tuple[str, str]]  # (kind, phrase as written), in the request's order
    facts: Facts
    free: bool  # "free" is part of it ("free shipping over $40"): the ad must say free too
    span: str  # the request from the offer's first phrase to its last: "$15 (normally $32) with code LEAFY15"

    @property
    def text(self) -> str:
        return ", ".join(p for _, p in self.parts)

    @property
    def kinds(self) -> list[str]:
        return [k for k, _ in self.parts]


def offer_of(text: str) -> Offer | None:
    """The offer a request carries (discount, price, free X, n-for-m, deadline, code), or None."""
    parts, bounds = [], []
    for m in _OFFER.finditer(text):
        kind = m.lastgroup
        phrase = m.group(0).strip(" ,.;'\"")
        if kind == "free" and re.fullmatch(r"free(?:\s+(?:to|of|and|for))?", phrase, re.IGNORECASE):
            continue  # "free to play" is a product fact, "free" alone says nothing
        parts.append((kind, phrase))
        start = text.index(phrase, m.start())
        bounds.append((start, start + len(phrase)))
    if not parts:
        return None
    joined = " ".join(p for _, p in parts)
    return Offer(parts, facts_of(joined, number_words=True), any(k == "free" for k, _ in parts)
                 or bool(re.search(r"\bfree\b", joined, re.IGNORECASE)), text[bounds[0][0]:bounds[-1][1]])


def distorted(text: str, offer: Offer | None) -> list[str]:
    """How `text` restates the offer with its meaning changed: "free shipping" without the request's "over $40",
    "60% off" for "up to 60% off". A true part of the offer with its condition dropped is a false claim."""
    if offer is None:
        return []
    out, have = [], facts_of(text, number_words=True)
    for kind, phrase in offer.parts:
        part = facts_of(phrase, number_words=True)
        if kind == "free" and re.search(r"\bfree\b", text, re.IGNORECASE) and part.numbers \
                and not set(part.numbers) <= set(have.numbers):
            out.append(f"free without its condition ({phrase!r})")
        elif kind == "percent" and re.match(r"up to\b", phrase, re.IGNORECASE) \
                and set(part.numbers) & set(have.numbers) and not re.search(r"\bup to\b", text, re.IGNORECASE):
            out.append(f"a percentage without its 'up to' ({phrase!r})")
    return out


def missing_from(offer: Offer, text: str) -> list[str]:
    """What of the offer `text` leaves out: its numbers, codes, months/weekdays, and "free"."""
    have = facts_of(text, number_words=True)
    missing = [n for n in offer.facts.numbers if n not in have.numbers]
    missing += sorted(w.title() for w in offer.facts.words - have.words)
    missing += sorted(offer.facts.codes - have.codes)
    if offer.free and not re.search(r"\bfree\b", text, re.IGNORECASE):
        missing.append("free")
    deadline = " ".join(p for k, p in offer.parts if k == "deadline").casefold()
    said = set(re.findall(r"[a-z]+", text.casefold()))
    missing += [w for w, group in RELATIVE_DAYS.items()
                if re.search(rf"\b{w}\b", deadline) and not said & set(group.split())]
    return missing


def digit_pattern(request: str, max_chars: int) -> str:
    """A regex for a string of at most ~`max_chars` whose digits are only the request's numbers, as written there:
    decoding under it cannot state a number the request does not give (units and the rest are checked after, by
    `ungrounded`). A number counts as one character of the bound, so it may run a few over: trimmed after."""
    request = _without_dimensions(request)
    spans = sorted({m["num"] for m in _NUMBER.finditer(request)} | facts_of(request).codes | {
        NUMBER_WORDS[w] for w in _WORD.findall(request.casefold()) if w in NUMBER_WORDS}, key=len, reverse=True)
    alternatives = "".join(f"|{re.escape(s)}" for s in spans)
    return f"^(?:[^0-9]{alternatives}){{1,{max_chars}}}$"
