"""The brief as data: one typed record of what it says, every value a verbatim span of the brief.

    facts = read_brief("Portrait Facebook ad for Nordvik Outfitters' end-of-season sale: up to 60% off insulated "
                       "jackets, ends Nov 15. Rugged, outdoorsy.")
    facts.brand.text                 -> "Nordvik Outfitters"
    facts.offers[0].core.text        -> "up to 60% off insulated jackets"
    [t.text for t in facts.offers[0].terms]  -> ["ends Nov 15"]
    facts.tone[0].text               -> "Rugged, outdoorsy"

The reader is code, not a model: each span is cut from the brief, so nothing in the record can be misspelt or
invented. The brief is split into sentences and clauses (never inside a number, a price or a date); each clause
loses the words that ask for the ad ("Instagram story for ..."), is read as talk to the designer (tone, audience,
colours, a CTA or a headline asked for, what the photo shows) or as content; content clauses are searched for
offers, each offer cut into its core (what a headline may state: "up to 60% off insulated jackets") and its terms
(what the fine print must carry: "ends Nov 15"). The words of each language are data
(`configs/design/languages/`, `engines.lexicon`); numbers, prices and dates are `engines.quantities`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from adgenesis.brief import BriefFacts, Clause, ClauseRole, Condition, Event, Intent, Job, Offer, Span
from adgenesis.engines.lexicon import Lexicon, alternation, lexicon
from adgenesis.engines.quantities import Quantity, number_value, quantities

# A sentence ends at . ! ? or ; before a space; clauses end at these too.
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;|()\[\]\"“”«»„]|:(?=\s|$)|\s[-–—]\s|\.\.\.|…)\s*")
_QUOTED = re.compile(r'"[^"]{2,120}"|“[^”]{2,120}”|«[^»]{2,120}»|„[^“”]{2,120}[“”]|(?<![\w])\'[^\']{2,120}\'(?![\w])')
_SINGLE_QUOTE = re.compile(r"\s*'\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
# A name: capitalised words (any script's capitals), joined by connectors of the six languages ("Historias de la
# Cocina", "Jazz sul Lago") or an elision ("Spiga d'Oro", "Fournil d'Antan"), a year allowed ("Summit 2025").
_CAP = r"(?:[^\W\d_a-zß-öø-ÿ][\w'’.-]*)"
_NAME_JOIN = (r"(?:&|and|of|the|de|du|des|la|le|les|del|della|delle|dei|degli|di|da|do|dos|das|sul|sulla|al|alla|von|"
              r"van|der|zum|zur|y|e|et|und)")
_NAME = re.compile(rf"(?<![\w'$€£¥₹]){_CAP}(?:(?:\s+(?:{_NAME_JOIN}\s+)*|\s*(?:d|l|dell|all|sull)['’]){_CAP}"
                   rf"|\s+\d{{4}}(?![\w]))*")


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def read_brief(prompt: str, language: str = "en") -> BriefFacts:
    """The record of `prompt` (in `language`, one of `lexicon.LANGUAGES`)."""
    return _read(" ".join(prompt.split()), language)


@lru_cache(maxsize=1024)
def _read(text: str, language: str) -> BriefFacts:
    return _Reader(text, lexicon(language)).facts()


class _Reader:
    def __init__(self, text: str, lex: Lexicon):
        self.text, self.lex = text, lex
        self.qs = quantities(text, lex)
        self.p = _patterns(lex.language)
        self.quoted = [(m.start(), m.end() - 1) for m in _QUOTED.finditer(text)]

    # ---- spans ----

    def span(self, start: int, end: int) -> Span | None:
        """The stretch, trimmed of spaces, punctuation and quotes at its ends; None when nothing is left."""
        while start < end and not (self.text[start].isalnum() or self.text[start] in "$€£¥₹¡¿#-−–"):
            start += 1
        while end > start and not (self.text[end - 1].isalnum() or self.text[end - 1] in "%$€£¥₹'’)+"):
            end -= 1
        if end > start and self.text[end - 1] in ")" and "(" not in self.text[start:end]:
            end -= 1
        if end < len(self.text) and self.text[end] == "." and re.search(r"(?<![\w])(\w+)$", self.text[start:end]) \
                and re.search(r"(?<![\w])(\w+)$", self.text[start:end])[1].casefold() in self.lex.abbreviations:
            end += 1  # "Mossgiel Wool Co."
        return Span(text=self.text[start:end], start=start, end=end) if end > start else None

    def _inside_quantity(self, i: int) -> bool:
        """Inside a number, a price or a date, or inside quotes ("Road trip, fully equipped" is one line)."""
        return any(q.start <= i < q.end for q in self.qs) or any(a < i < b for a, b in self.quoted)

    def sentences(self) -> list[tuple[int, int]]:
        out, start = [], 0
        for m in _SENTENCE_END.finditer(self.text):
            before = self.text[:m.start()]
            word = re.search(r"([\w.]+)[.]$", before)
            initial = len(word[1]) == 1 and word[1].isalpha() and word[1].casefold() not in self.lex.placement \
                if word else False  # "J. Smith", not "a post on X."
            if word and not before.endswith("..") and (word[1].casefold().rstrip(".") in self.lex.abbreviations or
                                                       initial or self._inside_quantity(m.start() - 1)):
                continue
            out.append((start, m.start()))
            start = m.end()
        out.append((start, len(self.text)))
        return [s for s in out if s[1] > s[0]]

    def clauses(self, start: int, end: int) -> list[tuple[int, int]]:
        out, at = [], start
        single_quotes = [q for q in _SINGLE_QUOTE.finditer(self.text, start, end)
                         if any(q.start() in (a, b) for a, b in self.quoted)]  # not the apostrophe of "Labs'"
        breaks = sorted([*_CLAUSE_BREAK.finditer(self.text, start, end), *self.p["join"].finditer(self.text, start, end),
                         *single_quotes], key=lambda m: m.start())
        for m in breaks:
            if m.start() < at:
                continue
            if self._inside_quantity(m.start()):
                continue
            if m.start() > at:
                out.append((at, m.start()))
            at = m.end()
        if end > at:
            out.append((at, end))
        return out

    # ---- the record ----

    def facts(self) -> BriefFacts:
        found: dict[str, list] = {k: [] for k in ("content", "tone", "audience", "colors", "copy_ideas", "image_hints",
                                                 "offers", "clauses")}
        cta_request: Span | None = None
        pending_meta: str | None = None  # "Copy idea:" whose words come in the next (quoted) clause
        for n, (s0, s1) in enumerate(self.sentences()):
            after_request = False  # "Facebook feed ad (square) for the ...": the ask goes on past the brackets
            look: ClauseRole | None = None  # "Keep it dry, a bit of trade-press feel, steel-blue palette": all the look
            for c0, c1 in self.clauses(s0, s1):
                raw = self.span(c0, c1)
                if raw is None:
                    continue
                role, body = self._role(raw)  # "Make it feel inviting" talks to the designer before "make" asks
                if look and role == "content" and not any(q.start >= raw.start and q.end <= raw.end and
                                                          q.kind != "number" for q in self.qs):
                    role = look
                look = role if role in ("tone", "audience", "colors") else look
                if role == "content" and not (self.p["conditions"].match(raw.text) or self.p["standing"].match(raw.text)):
                    # "mention this ad for £20 off", "one per student": the whole clause is a condition
                    stripped = self._strip_request(c0, c1, fillers_too=after_request)
                    after_request = self.span(stripped, c1) is None and stripped > c0
                    span = self.span(stripped, c1)
                    if span is None:
                        continue
                    role, body = self._role(span)
                else:
                    span = raw
                if role != "content" and body is None:
                    pending_meta = role  # "Audience:" or "Copy idea:", its words in the next clause
                    continue
                if pending_meta and role == "content":
                    role, body, pending_meta = pending_meta, span, None
                if body is None or (role == "content" and body.text.casefold() in self.p["labels"]):
                    continue
                if role == "content" and self._only(body, self.lex.color_words):
                    role = "colors"
                if role == "content" and self._only(body, self.lex.tone_words + self.lex.color_words + (
                        "and", "but", "not", "very", "yet", "with", "a", "bit", "super", "+", "&")):
                    role = "tone"  # "Rugged, outdoorsy", "understated navy + gold": the look
                if role == "cta":
                    cta_request = body
                elif role == "headline":
                    found["copy_ideas"].append(body)
                elif role == "image":
                    found["image_hints"].append(body)
                elif role in ("tone", "audience", "colors"):
                    found[role].append(body)
                else:
                    found["content"].append(body)
                found["clauses"].append(Clause(span=body, role=role, sentence=n))
        job_context = bool(self.p["hiring"].search(self.text)) and not self.p["volunteers"].search(self.text)
        offers = self._offers(found["clauses"], job_context)
        terms = self._standing_terms(found["clauses"], offers)
        clauses = tuple(c if not any(c.span == o.whole for o in offers) else c.model_copy(update={"role": "offer"})
                        for c in found["clauses"])
        names = self._names(found["content"])
        places = self._places(found["content"])
        brand = self._brand(found["content"], names)
        products = self._products(found["content"], brand, offers)
        job = self._job(found["content"], places) if job_context else None
        return BriefFacts(
            text=self.text, language=self.lex.language, brand=brand, names=tuple(names), places=tuple(places),
            products=tuple(products), offers=tuple(offers), terms=tuple(terms),
            event=self._event(offers, places), job=job,
            content=tuple(found["content"]), tone=tuple(found["tone"]), audience=tuple(found["audience"]),
            colors=tuple(found["colors"]), copy_ideas=tuple(found["copy_ideas"]), cta_request=cta_request,
            image_hints=tuple(found["image_hints"]),
            intent=self._intent(cta_request, products, offers, job is not None and job.role is not None,
                                any(q.kind in ("date", "time") for q in self.qs)),
            clauses=clauses)

    def _strip_request(self, start: int, end: int, fillers_too: bool = False) -> int:
        """Past the leading words that ask for the ad ("Facebook square ad for", "need a 300x250 banner for"); a run
        of fillers alone ("with code ...", "for new customers") is content."""
        # "Our team needs a 1080x1080 Meta ad for ...": a few lower-case words, an ad, and what it is for.
        if (m := self.p["request_lead"].match(self.text, start, end)) and m.end() < end and not any(
                w[:1].isupper() and not self.p["request"].fullmatch(w)
                for w in self.text[start:m.end()].split()[1:]):
            return self._past_requests(m.end(), end)
        at = self._past_requests(start, end)
        if at > start and not fillers_too and not re.search(r"[^\W_]", self.p["fillers_only"].sub(" ", self.text[start:at])):
            return start
        return at

    def _past_requests(self, start: int, end: int) -> int:
        while True:
            if re.match(r"(?:The|La|El|Le|Der|Die|Das|Il|Lo|Os|As|O|A)\s+[A-Z]", self.text[start:end]):
                return start  # "The Girder Brief": the article is the name's
            m = self.p["request"].match(self.text, start, end)
            q = next((q for q in self.qs if q.start == start and q.kind == "dimension"), None)
            if q is not None:
                start = q.end
            elif m and m.end() > start:
                start = m.end()
            else:
                return start
            while start < end and self.text[start] in " ,:-–—/":
                start += 1

    def _role(self, span: Span) -> tuple[ClauseRole, Span | None]:
        """What a clause is for, and its words without the ones addressed to the designer."""
        if self.p["meta.drop"].fullmatch(span.text):
            return "content", None
        if self.p["conditions"].match(span.text):  # "mention this ad", "show your student card": the reader's to do
            return "content", span
        if " " in span.text and self.p["tone_suffix"].search(span.text):  # "thrift-haul vibe", "chaotic gen z energy"
            return "tone", span
        if m := self.p["meta.suffix"].search(span.text):  # "Free shipping is the hook"
            span = self.span(span.start, span.start + m.start()) or span
        for role in ("cta", "headline", "tone", "audience", "colors", "image", "strip"):
            m = self.p[f"meta.{role}"].match(span.text)
            if m:
                rest = self.span(span.start + m.end(), span.end)
                if role == "strip" or (rest and self.p["meta.strip"].match(rest.text)):
                    # "Headline should mention 10% off": what to say, not the words to say it with
                    return self._role(rest) if rest else ("content", None)
                if role == "colors" and rest and not self._only(rest, self.lex.color_words):
                    continue
                if role == "image" and rest and self.p["starts_with_quantity"].match(rest.text):
                    continue  # "show 8pm" is a time, not a picture
                return role, rest  # type: ignore[return-value]
        return "content", span

    def _only(self, span: Span, words: tuple[str, ...]) -> bool:
        """Every word of the span is one of `words` (phrases allowed)."""
        rest = self.p["words"](words).sub(" ", span.text)
        return not re.search(r"[^\W_]", rest)

    # ---- offers ----

    def _offers(self, clauses: list[Clause], job_context: bool) -> list[Offer]:
        offers: list[Offer] = []
        owner: Offer | None = None  # the offer whose sentence is still being read: its following clauses are terms
        owner_sentence = -1
        for clause in clauses:
            if clause.role != "content":
                continue
            if owner is not None and self.p["after_start"].match(clause.span.text):
                owner = self._with_terms(owner, [clause.span])  # "then 1%", "then from $12/month": the offer's end
                offers[-1] = owner
                owner_sentence = clause.sentence
                continue
            found = self._offer_in(clause.span, job_context)
            if found is not None:
                offers.append(found)
                owner, owner_sentence = found, clause.sentence
                continue
            if owner is None:
                continue
            leads_with_condition = self.p["condition_start"].match(clause.span.text) or self._is_reference(clause.span)
            if clause.sentence == owner_sentence or (clause.sentence == owner_sentence + 1 and leads_with_condition):
                owner = self._with_terms(owner, [clause.span])
                offers[-1] = owner
                owner_sentence = clause.sentence
            else:
                owner = None
        # A clause just before an offer in its sentence that states a condition ("New member deal: 10-class pass"):
        for i, o in enumerate(offers):
            before = [c for c in clauses if c.role == "content" and c.span.end <= o.whole.start
                      and c.sentence == next(x.sentence for x in clauses if x.span == o.whole)]
            if before and self.p["conditions"].search(before[-1].span.text) and not any(
                    before[-1].span == x.whole for x in offers):
                offers[i] = self._with_terms(o, [before[-1].span], first=True)
        return offers

    def _standing_terms(self, clauses: list[Clause], offers: list[Offer]) -> list[Span]:
        """Content clauses outside every offer that state a condition of the whole ad: "Bristol and Bath only",
        "subject to status", "UK residents 18+", "12-month membership required"."""
        taken = [(t.start, t.end) for o in offers for t in (o.whole, *o.terms)]
        return [c.span for c in clauses if c.role == "content"
                and not any(a <= c.span.start < b for a, b in taken)
                and (self.p["standing"].search(c.span.text) or self.p["condition_lead"].match(c.span.text)
                     or self.p["age"].search(c.span.text))]

    def _subject(self, start: int, end: int) -> Span | None:
        """What an offer is on: the words beside its value without the fillers and price words at their ends."""
        span = self.span(start, end)
        while span is not None and (m := self.p["edge_words"].match(span.text)):
            span = self.span(span.start + m.end(), span.end)
        while span is not None and (m := self.p["edge_words_end"].search(span.text)):
            span = self.span(span.start, span.start + m.start())
        if span is None or not re.search(r"[^\W\d_]{2}", span.text) or any(
                q.start < span.end and span.start < q.end and q.kind != "number" for q in self.qs):
            return None
        return span

    def _is_reference(self, span: Span) -> bool:
        return bool(self.p["was"].match(span.text))

    def _with_terms(self, offer: Offer, spans: list[Span], first: bool = False) -> Offer:
        terms = (*spans, *offer.terms) if first else (*offer.terms, *spans)
        return offer.model_copy(update={"terms": terms, "conditions": self._conditions(terms)})

    def _conditions(self, terms: tuple[Span, ...]) -> tuple[Condition, ...]:
        out = []
        for term in terms:
            for kind, pattern in self.p["condition_kinds"].items():
                if pattern.search(term.text):
                    out.append(Condition(kind=kind, span=term))
                    break
            else:
                if any(q.kind == "date" and q.start >= term.start and q.end <= term.end for q in self.qs) or \
                        self.p["words"](self.lex.relative_days).search(term.text):
                    out.append(Condition(kind="deadline", span=term))
                elif self._is_reference(term):
                    out.append(Condition(kind="requirement", span=term))
        return tuple(out)

    def _offer_in(self, span: Span, job_context: bool) -> Offer | None:
        """The first offer a content clause states, cut into core and terms; None if it states none. The core is the
        clause up to its first condition or date ("Members get 20% off everything" | "this weekend"): what comes
        before the value stays with it, so a headline made of the core keeps who gets the offer."""
        if self._is_reference(span):
            return None
        qs = [q for q in self.qs if q.start >= span.start and q.end <= span.end]
        found = self._trigger(span, qs, job_context)
        if found is None:
            return None
        kind, v0, v1, amount, unit = found
        boundary = span.end
        for m in self.p["boundary"].finditer(self.text, v1, span.end):
            boundary = m.start()
            break
        for q in qs:
            if q.start >= v1 and q.kind in ("date", "time"):
                leads = [m for m in self.p["date_lead_before"].finditer(self.text, v1, q.start) if m.end() == q.start]
                boundary = min(boundary, leads[-1].start() if leads else q.start)
                break
        while (m := self.p["qualifier_before"].search(self.text, span.start, v0)) and m.end() == v0:
            v0 = m.start()  # "up to 60%": the qualifier is part of the value
        if kind == "free":
            v1 = max(v1, boundary)  # "free open day": what is free is part of the value
        core, value = self.span(span.start, boundary), self.span(v0, v1)
        if core is None or value is None:
            return None
        subject = self._subject(value.end, core.end)
        if subject is None and not self.p["conditions"].search(self.text, core.start, value.start):
            subject = self._subject(core.start, value.start)
        terms = tuple(t for t in [self.span(core.end, span.end)] if t is not None)
        return Offer(kind=kind, core=core, value=value, amount=amount, unit=unit, subject=subject, terms=terms,
                     conditions=self._conditions(terms), whole=span)

    def _trigger(self, span: Span, qs: list[Quantity], job_context: bool):
        """(kind, value start, value end, amount, unit) of the clause's offer, or None."""
        lang = self.lex.language
        for q in qs:
            after = self.text[q.end:span.end]
            before = self.text[span.start:q.start]
            off = self.p["off_after"].match(after)
            if q.kind == "multi_buy":
                extra = self.p["multi_tail"].match(after)
                return "multi_buy", q.start, q.end + (extra.end() if extra else 0), None, None
            if q.kind == "money" and self.p["threshold_before"].search(before):
                continue  # "on orders over $60", "spend $100": the offer's condition, not its value
            if q.kind in ("percent", "money"):
                unit = "%" if q.kind == "percent" else _currency(q.text, self.lex)
                amount = number_value(self._number_part(q.text), lang)
                if off:
                    return ("percent_off" if q.kind == "percent" else "amount_off"), q.start, q.end + off.end(), amount, unit
                if self.p["save_before"].search(before):
                    return ("percent_off" if q.kind == "percent" else "amount_off"), q.start, q.end, amount, unit
                if q.kind == "percent":
                    discount = self.p["off_words"].search(span.text) or q.text.lstrip()[:1] in "-−–"
                    return ("percent_off" if discount else "rate"), q.start, q.end, amount, unit
                if self.p["was_before"].search(before):
                    continue  # "(normally $32)": the price it is compared with
                if job_context and (self.p["pay"].search(after[:20]) or self.p["pay"].search(q.text)):
                    continue  # a wage or a salary, the job's terms
                bonus = self.p["bonus_after"].match(after)
                if bonus:
                    if job_context:
                        continue
                    return "bonus", q.start, q.end + bonus.end(), amount, unit
                if job_context:
                    continue
                return "price", q.start, q.end, amount, unit
            if q.kind == "duration" and (trial := self.p["trial_after"].match(after)):
                return "trial", q.start, q.end + trial.end(), number_value(self._number_part(q.text), lang), None
        if m := self.p["offer_words"].search(span.text):  # "gifts matched 2x until Dec 31"
            return "bonus", span.start + m.start(), span.start + m.end(), None, None
        if m := self.p["half"].search(span.text):
            return "percent_off", span.start + m.start(), span.start + m.end(), 50.0, "%"
        if m := self.p["trial"].search(span.text):
            return "trial", span.start + m.start(), span.start + m.end(), None, None
        for m in self.p["free_phrase"].finditer(span.text):
            if not self.p["not_free"].search(span.text, max(0, m.start() - 12), m.end() + 12):
                return "free", span.start + m.start(), span.start + m.end(), None, None
        return None

    def _number_part(self, text: str) -> str:
        """The first number of a quantity as written: "$28" of "$28-$34/hr", "Twenty" of "Twenty percent"."""
        m = self.p["number"].search(text)
        return m.group(0) if m else text

    # ---- names, places, products ----

    def _names(self, content: list[Span]) -> list[Span]:
        out: list[Span] = []
        for span in content:
            for m in _NAME.finditer(span.text):
                word = re.sub(r"(?:'s|’s)$", "", m.group(0))
                word = word.rstrip(".'’") if not re.search(r"\b(?:Co|Inc|Ltd|St)\.$", word) else word
                start = span.start + m.start()
                lowered = word.casefold()
                if self.p["not_name"].fullmatch(lowered) or len(word) < 2 or self._inside_quantity(start):
                    continue
                at_start = not self.text[:start].strip() or self.text[:start].rstrip()[-1] in ".!?"
                whole_clause = start == span.start and start + len(word) >= span.end - 1
                if at_start and not whole_clause and " " not in word and not any(c.isupper() for c in word[1:]) \
                        and not word.endswith("s'") \
                        and not self.text[start + len(word):start + len(word) + 2] in ("'s", "’s") \
                        and self.text.count(word) < 2:
                    continue  # "Summer sale ...": a capital that only starts a sentence
                if (s := self.span(start, start + len(word))) and s not in out:
                    out.append(s)
        return out

    def _places(self, content: list[Span]) -> list[Span]:
        out: list[Span] = []
        for span in content:
            for m in self.p["place"].finditer(span.text):
                s = self.span(span.start + m.start("place"), span.start + m.end("place"))
                if s and s not in out and not self.p["not_name"].fullmatch(s.text.casefold()):
                    out.append(s)
        return out

    def _brand(self, content: list[Span], names: list[Span]) -> Span | None:
        for span in content[:3]:
            for name in names:
                if span.start <= name.start < span.end:
                    return name
        return names[0] if names else None

    def _products(self, content: list[Span], brand: Span | None, offers: list[Offer]) -> list[Span]:
        out = [o.subject for o in offers if o.subject is not None]
        for span in content[:3]:
            if brand and span.start <= brand.start < span.end:
                after = brand.end + (2 if self.text[brand.end:brand.end + 2] in ("'s", "’s") else 0)
                rest = self.span(after, span.end)
                rest = self._after_possessive(rest) if rest else None
                if rest and len(rest.text.split()) <= 6 and not self.p["boundary"].search(rest.text) and not any(
                        q.start < rest.end and rest.start < q.end for q in self.qs):
                    out.append(rest)
        return [p for i, p in enumerate(out) if p not in out[:i]]

    def _after_possessive(self, span: Span) -> Span | None:
        m = re.match(r"(?:'s|’s|'|’)?\s*(?:(?:is|are|,)\s+)?(?:(?:a|an|the|our|their|its)\s+)?", span.text)
        return self.span(span.start + m.end(), span.end) if m else span

    # ---- events, jobs, intent ----

    def _event(self, offers: list[Offer], places: list[Span]) -> Event | None:
        in_offers = [(t.start, t.end) for o in offers for t in (o.core, *o.terms)]
        dates = tuple(self.span(q.start, q.end) for q in self.qs if q.kind == "date"
                      and not any(a <= q.start < b for a, b in in_offers))
        times = tuple(self.span(q.start, q.end) for q in self.qs if q.kind == "time")
        if not dates and not times:
            return None
        return Event(dates=dates, times=times, places=tuple(places))

    def _job(self, content: list[Span], places: list[Span]) -> Job:
        role = None
        # the request's own words ("a banner for our job posting for developers") may be all that names the role
        for span in (*content, self.span(0, len(self.text))):
            m = self.p["role"].search(span.text) or self.p["role_before"].search(span.text)
            if m:
                role = self.span(span.start + m.start("role"), span.start + m.end("role"))
                break
        pay = tuple(self.span(q.start, q.end) for q in self.qs if q.kind == "money")
        terms = tuple(s for s in content if role is None or not (s.start <= role.start < s.end))
        return Job(role=role, places=tuple(places), pay=pay, terms=terms)

    def _intent(self, cta_request: Span | None, products: list[Span], offers: list[Offer], hiring: bool,
                dated: bool) -> Intent:
        if cta_request is not None:  # "CTA subscribe", 'Button should say "Book a table"'
            for intent, words in self.lex.intents.items():
                if self.p["words"](words.verbs).search(cta_request.text):
                    return intent
        if hiring and "apply" in self.lex.intents:
            return "apply"  # a job ad that names its role asks for applicants, whatever the shop it is for sells
        text = self.p["negation"].sub(" ", self.text)  # "no credit card needed" asks for no card
        priced = any(q.kind == "money" for q in self.qs)
        scores = dict.fromkeys(self.lex.intents, 0)
        for intent, words in self.lex.intents.items():
            asked = len(self.p["words"](words.verbs).findall(text))
            scores[intent] += 3 * asked
            # a show with a price or a date is ticketed; one with neither ("live music on Fridays") is a visit
            counted = intent if priced or dated or asked or not words.with_price else words.else_intent
            if counted is not None:
                scores[counted] += len(self.p["words"](words.words).findall(text))
        if not hiring and any(q.kind in ("percent", "money", "multi_buy") for q in self.qs) and "shop" in scores:
            scores["shop"] += 1  # an offer with nothing else to go on is bought
        best = max(scores.values(), default=0)
        if best:
            return next(i for i in self.lex.intents if scores[i] == best)
        if not offers and dated and "visit" in self.lex.intents:
            return "visit"  # a day out with nothing to buy
        return "shop" if products or offers else "learn"


def _currency(text: str, lex: Lexicon) -> str | None:
    for sign in ("R$", "US$", "AU$", "CA$", "NZ$", "HK$", "CHF", "Rs", "₹", "$", "€", "£", "¥", "₩"):
        if sign in text:
            return sign
    for word, code in lex.currency_words.items():
        if re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text, re.IGNORECASE):
            return code
    m = re.search(r"\b(USD|EUR|GBP|JPY|INR|CHF|BRL|MXN|CAD|AUD|SEK|NOK|DKK|PLN)\b", text)
    return m.group(1) if m else None


@lru_cache(maxsize=8)
def _patterns(language: str) -> dict:
    lex = lexicon(language)

    def ws(*fields: str) -> str:
        return alternation(tuple(p for f in fields for p in lex._list(f)))

    conditions = ws(*(f"conditions.{k}" for k in lex.conditions))
    word_cache: dict[tuple[str, ...], re.Pattern] = {}

    def words(phrases: tuple[str, ...]) -> re.Pattern:
        if phrases not in word_cache:
            # a phrase that starts with a sign may follow a word ("$2.49/mo")
            word_cache[phrases] = re.compile(rf"(?:(?<![\w])|(?=[^\w\s])){alternation(phrases)}(?![\w])",
                                             re.IGNORECASE) \
                if phrases else re.compile(r"(?!x)x")
        return word_cache[phrases]

    name_words = (lex.placement + lex.requests + lex.fillers + lex.vocabulary + lex.tone_words + lex.color_words
                  + lex.months + lex.weekdays + lex.relative_days + lex.off_words + lex.free_words + lex.qualifiers)
    hiring = ws("hiring_leads")
    return {
        "number": re.compile(rf"(?:\d{{1,3}}(?:[,.\u00a0\u202f']\d{{3}})+(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d+)?)(?:\s?[kK]\b)?"
                             rf"|(?:{ws('number_words')})(?:[\s-](?:{ws('number_words')}))*",
                             re.IGNORECASE),
        "join": re.compile(rf"\s+(?!(?:{ws('not_joins')})(?![\w]))(?:{ws('joins')})\s+(?=(?:(?:{ws('fillers')})\s+)?(?:(?:{ws('free_words', 'qualifiers')})(?![\w])|[\d$€£¥₹]))",
                           re.IGNORECASE),
        "labels": frozenset(w.casefold() for w in lex.labels),
        "request_lead": re.compile(rf"(?:[^\W\d_][\w'’-]*\s+){{0,6}}?(?:[\w:-]+\s+){{0,3}}?(?:{ws('placement')})(?![\w])"
                                   rf"(?:\s+[\w-]+){{0,3}}?\s+(?:{ws('request_leads')})\s+", re.IGNORECASE),
        "request": re.compile(rf"(?:{ws('placement', 'requests')})(?![\w])", re.IGNORECASE),
        **{f"meta.{k}": re.compile(rf"(?:{ws(f'meta.{k}')})(?![\w])\s*:?\s*", re.IGNORECASE)
           for k in ("cta", "headline", "tone", "audience", "colors", "image", "strip")},
        "tone_suffix": re.compile(rf"(?<![\w])(?:{ws('tone_suffixes')})$", re.IGNORECASE),
        "meta.drop": re.compile(rf"(?:{ws('meta.drop')})", re.IGNORECASE),
        "meta.suffix": re.compile(rf"\s+(?:{ws('meta.suffix')})$", re.IGNORECASE),
        "words": words,
        "conditions": words(tuple(p for k in lex.conditions for p in lex.conditions[k])),
        "condition_kinds": {k: words(v) for k, v in lex.conditions.items()},
        "after_start": re.compile(rf"(?:{ws('conditions.after')})(?![\w])", re.IGNORECASE),
        "standing": words(lex.standing_terms),
        "volunteers": words(lex.intents["volunteer"].verbs + lex.intents["volunteer"].words) if "volunteer" in lex.intents
        else re.compile("(?!)"),  # "sucht Helfer:innen" seeks volunteers, not staff
        "age": re.compile(r"(?<![\w])\d{1,2}\s?\+(?!\d)|(?<![\d])\+\s?\d{2}(?![\d%])"),
        "negation": words(lex.conditions.get("negation", ())),
        "condition_lead": re.compile(rf"(?:{conditions})(?![\w])", re.IGNORECASE),  # not "every day": a day is no term
        "condition_start": re.compile(rf"(?:{conditions}|{ws('relative_days')})(?![\w])", re.IGNORECASE),
        "boundary": re.compile(rf"(?<![\w])(?:{conditions}|{ws('relative_days')})(?![\w])", re.IGNORECASE),
        "date_lead_before": re.compile(rf"(?<![\w])(?:{ws('date_leads')})\s+", re.IGNORECASE),
        "qualifier_before": re.compile(rf"(?<![\w])(?:{ws('qualifiers')})\s+", re.IGNORECASE),
        "fillers": words(lex.fillers + lex.qualifiers),
        "fillers_only": words(lex.fillers),
        "offer_verbs": words(lex.offer_verbs),
        "off_after": re.compile(rf"[\s-]?(?:{ws('off_words')})(?![\w])", re.IGNORECASE),
        "off_words": words(lex.off_words),
        "save_before": re.compile(rf"(?<![\w])(?:{ws('save_words')})\s+$",
                                  re.IGNORECASE),
        "edge_words": re.compile(rf"(?:{ws('fillers', 'price_words', 'qualifiers', 'off_words', 'offer_verbs')})(?![\w])\s*", re.IGNORECASE),
        "edge_words_end": re.compile(rf"\s*(?<![\w])(?:{ws('fillers', 'price_words', 'qualifiers', 'off_words', 'offer_verbs')})$", re.IGNORECASE),
        "starts_with_quantity": re.compile(r"[\d$€£¥₹]"),
        "threshold_before": re.compile(rf"(?<![\w])(?:{ws('conditions.threshold')})\s*$", re.IGNORECASE),
        "was": re.compile(rf"(?:{ws('was_words')})(?![\w])", re.IGNORECASE),
        "was_before": re.compile(rf"(?<![\w])(?:{ws('was_words')})\s*$", re.IGNORECASE),
        "pay": words(lex.pay_words),
        "bonus_after": re.compile(rf"\s?(?:[\w-]+\s)?(?:{ws('bonus_words')})(?![\w])", re.IGNORECASE),
        "trial_after": re.compile(rf"\s?(?:{ws('trial_words')})(?![\w])", re.IGNORECASE),
        "trial": words(lex.trial_words),
        "half": words(lex.half_price),
        "offer_words": words(lex.offer_words),
        "not_free": words(lex.not_free),
        "free_phrase": re.compile(rf"(?<![\w-])(?:{ws('free_words')})(?![\w-])", re.IGNORECASE),
        "multi_tail": re.compile(rf"\s?(?:(?:{ws('free_words')})|(?:{ws('half_price')}))(?![\w])", re.IGNORECASE),
        "hiring": words(lex.job_words + lex.hiring_leads),
        "role": re.compile(rf"(?:{hiring})\s+(?:(?:a|an|the|our)\s+)?(?P<role>[^,.;:]+?)(?=\s+(?:{ws('place_leads')}|for)\s|[,.;:]|$)",
                           re.IGNORECASE),
        "role_before": re.compile(rf"(?P<role>[^,.;:]+?)\s+(?:{ws('hiring_trails')})(?![\w])", re.IGNORECASE),
        "place": re.compile(rf"(?<![\w])(?:{ws('place_leads')})\s+(?:the\s+)?(?P<place>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)"),
        "not_name": re.compile(alternation(tuple(w.casefold() for w in name_words))),
    }
