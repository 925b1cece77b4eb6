"""Ad copy true by construction: every word either inside a whole span of the brief or from the language's vocabulary
of words that claim nothing; the CTA from the brief's intent; each offer's terms, verbatim, in the fine print.

    facts = read_brief("Portrait Facebook ad for Nordvik Outfitters' end-of-season sale: up to 60% off insulated "
                       "jackets, ends Nov 15. Rugged, outdoorsy.")
    words = CopyWords.of(facts)
    words.pattern("headline")   -> the regex a headline must match: the grammar the LLM decodes under, and the check
    words.allows("Up to 60% off insulated jackets at Nordvik Outfitters")   -> True
    words.allows("Up to 60% off all jackets")                              -> False ("all" is not in a span)
    fine_print(facts)           -> "Ends Nov 15."
    cta_labels(facts)           -> ["Shop now", "Shop"]

A number, a name or a place can only appear inside a span, so it keeps its unit, its subject and its spelling; a
span is whole or absent, so nothing is cut. `composed(facts)` is the copy a designer would write from the facts
alone: what the layout falls back to when the model's copy cannot be laid out or misses a check.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from typing import Iterable, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict

from adgenesis.brief import BriefFacts, Span
from adgenesis.engines.lexicon import Lexicon, lexicon
from adgenesis.paths import CONFIGS_DIR
from adgenesis.schema import BRIEF_LIMITS

COPY_RULES = CONFIGS_DIR / "design" / "copy.yaml"
Field = Literal["headline", "subline"]
_REGEX_SPECIAL = set(r"\.^$*+?()[]{}|/-")


class CopyRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    separators: tuple[str, ...]
    max_spans: dict[Field, int]
    candidates: dict[Field, int]
    max_words_before_span: int
    min_part_words: int
    fine_print_joiner: str


@lru_cache(maxsize=1)
def rules() -> CopyRules:
    return CopyRules.model_validate(yaml.safe_load(COPY_RULES.read_text()))


def regex_escape(text: str) -> str:
    """`text` as a regex literal that both Python's `re` and xgrammar read the same: only the special characters
    escaped (re.escape also escapes spaces, which xgrammar's regex syntax does not need)."""
    return "".join(f"\\{c}" if c in _REGEX_SPECIAL else c for c in text)


def _initial_either_case(literal: str) -> str:
    """A literal whose first letter may be upper or lower case: "Up to" and "up to" are the same span."""
    first = literal[0]
    if first.isalpha() and first.lower() != first.upper():
        return f"[{first.upper()}{first.lower()}]" + regex_escape(literal[1:])
    return regex_escape(literal)


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


class CopyWords:
    """What a headline and a supporting line may be made of, for one brief: its spans and its language's vocabulary
    (a brand kit's voice words widen it, its banned words narrow it)."""

    def __init__(self, spans: Iterable[str], vocabulary: Iterable[str], banned: Iterable[str] = ()):
        self.banned = tuple(b.casefold() for b in banned if b.strip())
        self.spans = tuple(s for s in _unique(spans) if self.clean(s))
        self.vocabulary = tuple(w for w in _unique(vocabulary) if self.clean(w))

    def clean(self, text: str) -> bool:
        """`text` says none of the banned words (a brand kit's), as a whole word or phrase."""
        folded = text.casefold()
        return not any(re.search(rf"(?<![\w]){re.escape(b)}(?![\w])", folded) for b in self.banned)

    @classmethod
    def of(cls, facts: BriefFacts, voice: Iterable[str] = (), banned: Iterable[str] = ()) -> "CopyWords":
        lex = lexicon(facts.language)
        return cls(copy_spans(facts, lex), (*lex.vocabulary, *voice), banned)

    def pattern(self, field: Field, optional: bool = False) -> str:
        """The regex (anchored) a field's text must match: `max_spans[field]` spans, each led by up to
        `max_words_before_span` vocabulary words, joined by the separators, ending in a span (a full stop or "!"
        may close it). `optional`: the empty string matches too."""
        return self._patterns[(field, optional)]

    def choice(self, texts: Iterable[str], optional: bool = False) -> str:
        """The regex (anchored) that matches one of `texts` whole (its first letter in either case): what the model
        chooses among (`candidates`)."""
        body = "|".join(_initial_either_case(t) for t in _unique(texts)) or "(?!x)x"
        return f"^(?:{body})?$" if optional else f"^(?:{body})$"

    def allows(self, text: str, field: Field = "subline") -> bool:
        return bool(self._compiled[field].fullmatch(text))

    @cached_property
    def _patterns(self) -> dict[tuple[Field, bool], str]:
        r = rules()
        span = "(?:" + "|".join(_initial_either_case(s) for s in sorted(self.spans, key=len, reverse=True)) + ")"
        word = "(?:" + "|".join(_initial_either_case(w) for w in sorted(self.vocabulary, key=len, reverse=True)) + ")"
        sep = "(?:" + "|".join(regex_escape(s) for s in sorted(r.separators, key=len, reverse=True)) + ")"
        led = f"(?:{word} ){{0,{r.max_words_before_span}}}{span}"
        out = {}
        for field in ("headline", "subline"):
            body = f"{led}(?:{sep}{led}){{0,{r.max_spans[field] - 1}}}[.!]?" if self.spans else "(?!x)x"
            out[(field, False)] = f"^{body}$"
            out[(field, True)] = f"^(?:{body})?$"
        return out

    @cached_property
    def _compiled(self) -> dict[Field, re.Pattern]:
        return {f: re.compile(self.pattern(f), re.IGNORECASE) for f in ("headline", "subline")}


def _unique(texts: Iterable[str]) -> list[str]:
    seen, out = set(), []
    for t in texts:
        t = t.strip()
        if t and t.casefold() not in seen and '"' not in t and "\\" not in t:
            seen.add(t.casefold())
            out.append(t)
    return out


# --------------------------------------------------------------------------------------------------
# The spans copy may use
# --------------------------------------------------------------------------------------------------


def copy_spans(facts: BriefFacts, lex: Lexicon | None = None) -> list[str]:
    """Every span of the brief a headline or supporting line may use, whole: its content clauses, the offers'
    cores (and, with one offer, its value and terms), names, places, products, the copy it asks for, and the
    parts of long clauses that carry no number (a part with a number would lose what the number is of)."""
    lex = lex or lexicon(facts.language)
    limit = BRIEF_LIMITS["subline"]
    out: list[Span] = [*facts.copy_ideas, *([facts.brand] if facts.brand else []), *facts.names, *facts.places,
                       *facts.products]
    for offer in facts.offers:
        out.append(offer.core)
        if (short := short_core(facts, offer)) is not None:
            out.append(short)
        if offer.core.start < offer.value.start and offer.value.end < offer.core.end and _says_what(
                facts.text[offer.core.start:offer.value.start], lex):  # "2 tacos for $5" | "at ...": what, its price
            out.append(facts.span(offer.core.start, offer.value.end))
        if len(facts.offers) == 1:
            out += list(offer.terms)
        if _only_value(offer):  # "30% off" alone: a value with nothing else of its core to lose
            out.append(offer.value)
    for clause in facts.content:
        out.append(clause)
        out += _parts(facts, clause, lex)
    if facts.job and facts.job.role:
        out.append(facts.job.role)
    vocabulary = lex.vocabulary_forms
    return [s.text for s in out if len(s.text) <= limit and re.search(r"[^\W\d_]", s.text)
            and s.text.casefold() not in vocabulary]


def short_core(facts: BriefFacts, offer) -> Span | None:
    """A core too long for a headline, cut after its value and subject at the first split word or "+"
    ("Quokkabyte VPN 70% off the 2-year plan" | "+ 3 extra months free"); the fine print then carries the whole
    offer (`fine_print`), so nothing of it is lost. None when the core fits."""
    if len(offer.core.text) <= BRIEF_LIMITS["headline"]:
        return None
    rest = facts.text[offer.value.end:offer.core.end]
    cut = re.search(rf"\s+\+|{_split_pattern(facts.language).pattern}", rest, re.IGNORECASE)
    if cut is None:
        return None
    return facts.span(offer.core.start, offer.value.end + cut.start())


def _says_what(text: str, lex: Lexicon) -> bool:
    """Words before a value that say what it is for ("2 tacos for"), not only when ("every") or fillers."""
    rest = {w.casefold() for w in re.findall(r"[^\W\d_]+", text)}
    return bool(rest - {w.casefold() for w in (*lex.fillers, *lex.date_leads, *lex.price_words, *lex.qualifiers)})


def _only_value(offer) -> bool:
    return offer.core.text.casefold().endswith(offer.value.text.casefold()) and len(offer.core.text.split()) <= \
        len(offer.value.text.split()) + 1


def _parts(facts: BriefFacts, clause: Span, lex: Lexicon) -> list[Span]:
    """A clause cut at its split words ("Tollbeck Logistics | is hiring | Class A truck drivers | out of | Reno")
    into whole parts, when no number would be cut from what it counts."""
    from adgenesis.engines.quantities import quantities

    if any(q.kind not in ("number",) for q in quantities(clause.text, lex)):
        return []
    pattern = _split_pattern(lex.language)
    cuts = [(m.start(), m.end()) for m in pattern.finditer(clause.text)]
    out = []
    min_words = rules().min_part_words
    for start, end in cuts:
        for a, b in ((0, start), (end, len(clause.text))):
            text = clause.text[a:b].strip(" ,.;:")
            if len(text.split()) >= min_words or (text[:1].isupper() and len(text) > 2):
                offset = clause.start + clause.text.index(text, a)
                out.append(Span(text=text, start=offset, end=offset + len(text)))
    return out


@lru_cache(maxsize=8)
def _split_pattern(language: str) -> re.Pattern:
    from adgenesis.engines.lexicon import alternation

    return re.compile(rf"\s+{alternation(lexicon(language).split_words)}\s+", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------
# The CTA, the fine print and the photo
# --------------------------------------------------------------------------------------------------


def cta_labels(facts: BriefFacts) -> list[str]:
    """The button's words in the order to try (shorter ones for small buttons come after): the brief's own when it
    asks for one, else its intent's labels (`Lexicon.cta`), those that need a word of the brief only if it has it."""
    lex = lexicon(facts.language)
    out = []
    if facts.cta_request is not None and len(facts.cta_request.text.split()) <= 4:
        out.append(sentence_case(facts.cta_request.text))
    folded = facts.text.casefold()
    for label in lex.cta.get(facts.intent, lex.cta["learn"]):
        if not label.when or any(re.search(rf"(?<![\w]){re.escape(w.casefold())}(?![\w])", folded) for w in label.when):
            out.append(label.label)
    return _unique(out)


def fine_print(facts: BriefFacts, disclaimer: str | None = None) -> str:
    """Each offer's terms, verbatim: with one offer its terms alone ("Ends Nov 15."), with several each offer's
    clause with its terms, so no condition reads as another offer's and no offer is left out where the canvas has
    room for a headline only; then the conditions the brief states apart from its offers ("UK residents 18+").
    A brand kit's disclaimer comes last."""
    joiner = rules().fine_print_joiner
    parts: list[str] = []
    for offer in facts.offers:
        if len(facts.offers) == 1 and short_core(facts, offer) is None:
            parts += [t.text for t in offer.terms]
        else:  # every offer, whole, so that what a small canvas or a short headline has no room for is still stated
            outside = [t.text for t in offer.terms if not (offer.whole.start <= t.start < offer.whole.end)]
            parts += [offer.whole.text, *outside]
    parts += [t.text for t in facts.terms]
    if disclaimer:
        parts.append(disclaimer.strip())
    parts = _unique(parts)
    if not parts:
        return ""
    return joiner.join(sentence_case(p.rstrip(".")) for p in parts) + "."


def fine_print_parts(facts: BriefFacts) -> list[str]:
    """The verbatim pieces `fine_print` joins (what the check looks for)."""
    return [p for p in re.split(re.escape(rules().fine_print_joiner), fine_print(facts).rstrip(".")) if p]


def image_of(facts: BriefFacts) -> str:
    """What the photo shows: the brief's own words for it, else what the main offer is on, the product, the role
    or the first thing the brief says."""
    from adgenesis.schema import MAX_DESCRIPTION_CHARS

    main = facts.offers[0].subject if facts.offers else None
    role = facts.job.role if facts.job else None
    for span in (*facts.image_hints, main, *facts.products, role, *facts.content, facts.brand):
        if span is not None and 0 < len(span.text) <= MAX_DESCRIPTION_CHARS:
            return span.text
    return (facts.brand.text if facts.brand else facts.text)[:MAX_DESCRIPTION_CHARS]


# --------------------------------------------------------------------------------------------------
# Copy composed from the facts alone
# --------------------------------------------------------------------------------------------------


class Candidates(NamedTuple):
    """The headlines and supporting lines a designer would consider for a brief, best first."""

    headlines: list[str]
    sublines: list[str]


def candidates(facts: BriefFacts, words: CopyWords | None = None) -> Candidates:
    """Every span a headline or a supporting line could be (and a few of the language's combinations of two:
    "<offer> at <brand>"), ranked as a designer would: a headline is what the brief is about (the copy it asks
    for, its offer, the role it hires for, a clause that says what it is, its product, its brand); a supporting
    line what a reader needs next (the pay and place of a job, the date of an event, the brand, a selling point).
    The grammar the model decodes under lets it choose among the first `CopyRules.candidates` of each."""
    words = words or CopyWords.of(facts)
    limit_h, limit_s = BRIEF_LIMITS["headline"], BRIEF_LIMITS["subline"]
    brand = facts.brand.text if facts.brand else ""
    terms = {t.text.casefold() for o in facts.offers for t in o.terms}
    ideas = {s.text.casefold() for s in facts.copy_ideas}
    offers = {o.core.text.casefold(): 1 - i * 0.1 for i, o in enumerate(facts.offers)}
    offers |= {s.text.casefold(): 0.95 for o in facts.offers if (s := short_core(facts, o)) is not None}
    role = facts.job.role.text.casefold() if facts.job and facts.job.role else None
    pay = {p.text.casefold() for p in facts.job.pay} if facts.job else set()
    dates = [d.text.casefold() for d in (facts.event.dates + facts.event.times if facts.event else ())]
    places = {p.text.casefold() for p in facts.places}
    whole = {o.whole.text.casefold() for o in facts.offers} if len(facts.offers) == 1 else set()
    event = bool(dates) and not facts.offers and facts.intent in ("tickets", "register", "visit", "volunteer", "donate")
    combined = set(_combinations(facts, words))

    def headline_rank(span: str) -> float:
        t = span.casefold()
        n = len(span.split())
        if t in ideas:
            return 100
        if t in whole:
            return 92  # the offer as the brief words it, terms and all, where it fits
        if t in offers:
            return 90 * offers[t]
        if t in combined:
            return 88 if facts.offers else 70  # "<offer> at <brand>": the offer and who makes it
        if role and role in t:
            return 75 + min(n, 10) * 0.5  # the role with who hires and where beats the role alone
        if t in terms or t in places or any(d in t for d in dates) and n <= 5:
            return 10  # where, when and on what terms: a supporting line's
        if t == brand.casefold():
            return 60 if event else 30  # an event's name is its headline
        counted = any(c.isdigit() for c in span)  # "It goes to 9,000 readers": a detail, not what it is
        return (40 + min(n, 8) if n >= 3 else 25) - 10 * counted

    def subline_rank(span: str) -> float:
        t = span.casefold()
        if t in pay or any(p in t for p in pay):
            return 60
        if any(d in t for d in dates):
            return 55
        if t in offers:
            return 50
        if brand and brand.casefold() in t:
            return 45 + (t != brand.casefold()) * 2  # the brand with what it sells, before the brand alone
        if t in terms:
            return 35
        return 30 if len(span.split()) >= 2 else 20

    fine = fine_print(facts).rstrip(".").casefold()
    spans = [s for s in words.spans if words.allows(s) and s.casefold() != fine] + sorted(combined)
    headlines = sorted((s for s in spans if len(s) <= limit_h), key=headline_rank, reverse=True)
    # A one-word name other than the brand or the role ("Ridge") is no headline; with an offer, the headline states
    # it; a hiring ad's, the role.
    headlines = [h for h in headlines if " " in h or h == brand or h.casefold() in ideas or h.casefold() == role]
    if facts.offers:
        value = facts.offers[0].value.text.casefold()
        headlines = [h for h in headlines if value in h.casefold()] or headlines
    elif role:  # a hiring ad's headline names the role
        headlines = [h for h in headlines if role in h.casefold()] or headlines
    return Candidates(headlines, sorted((s for s in spans if len(s) <= limit_s), key=subline_rank, reverse=True))


def _combinations(facts: BriefFacts, words: CopyWords) -> list[str]:
    """The language's combinations of two spans (`Lexicon.combinations`: "{offer} at {brand}") that the brief
    allows: each of its spans whole, its connector a vocabulary word, the brand not already in the other span."""
    lex = lexicon(facts.language)
    brand = facts.brand.text if facts.brand else None
    fills = {"offer": [o.core.text for o in facts.offers if len(facts.offers) == 1],
             "role": [facts.job.role.text] if facts.job and facts.job.role else [],
             "product": [p.text for p in facts.products[:2]]}
    out = []
    for template in lex.combinations:
        for key, values in fills.items():
            if "{" + key + "}" not in template or not brand:
                continue
            for value in values:
                if brand.casefold() in value.casefold():
                    continue
                text = template.format(**{key: value, "brand": brand})
                if words.allows(text, "headline"):
                    out.append(text)
    return out


def composed(facts: BriefFacts, words: CopyWords | None = None) -> list[tuple[str, str]]:
    """(headline, supporting line) pairs a designer would write from the facts alone, best first (`candidates`);
    every one is allowed by `words`. The layout takes the first that fits its canvas."""
    words = words or CopyWords.of(facts)
    fine = fine_print(facts).rstrip(".").casefold()
    ranked = candidates(facts, words)
    out: list[tuple[str, str]] = []
    for h in ranked.headlines:
        subs = [s for s in ranked.sublines if s.casefold() not in h.casefold() and h.casefold() not in s.casefold()
                and s.casefold() != fine]
        out += [(sentence_case(h), sentence_case(s)) for s in subs[:3]] or [(sentence_case(h), "")]
    return out
