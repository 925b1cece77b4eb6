"""Numbers as a brief writes them: money, percentages, multi-buys, dates, times, durations, codes and plain
numbers, in digits or in words, each found as a span of the text that is never cut.

    [(q.kind, q.text) for q in quantities("Tickets $25 advance, doors 7pm Friday Oct 4", lexicon("en"))]
    -> [("money", "$25"), ("time", "7pm"), ("date", "Friday Oct 4")]

Ad sizes ("300x250", "9:16") place an ad; they are `dimension`s, not facts. The value of a number written in words
comes from text2num.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

from text_to_num import text2num

from adgenesis.engines.lexicon import Lexicon, alternation, lexicon

Kind = Literal["dimension", "money", "percent", "multi_buy", "date", "time", "duration", "code", "number"]
# Found in this order; a later kind never overlaps an earlier one's span.
ORDER: tuple[Kind, ...] = ("dimension", "money", "multi_buy", "percent", "date", "time", "duration", "code", "number")

CURRENCY_SIGNS = ("R$", "US$", "AU$", "A$", "CA$", "C$", "NZ$", "HK$", "S$", "MX$", "CHF", "Rs.", "Rs", "₹", "$", "€", "£",
                  "¥", "₩", "kr")
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "INR", "CHF", "BRL", "MXN", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN")
DIGITS = r"\d{1,3}(?:[,.\u00a0\u202f']\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?"
MAGNITUDE = r"(?:\s?[kK]\b)?"
RANGE = r"\s?(?:-|–|—|to|a|à|bis|al|au)\s?"


class Quantity(NamedTuple):
    kind: Kind
    start: int
    end: int
    text: str


@lru_cache(maxsize=16)
def _patterns(language: str) -> dict[Kind, re.Pattern]:
    lex = lexicon(language)
    words = alternation(lex.number_words)
    number = rf"(?:(?:{DIGITS})(?:\s?[-–]\s?(?:{DIGITS}))?|{words}(?:[\s-]{words})*)"
    sign = alternation(CURRENCY_SIGNS)
    code = alternation(CURRENCY_CODES)
    word = alternation(tuple(lex.currency_words))
    amount = rf"(?:{DIGITS}){MAGNITUDE}"
    one = (rf"(?:{sign}|{code})\s?{amount}|{amount}\s?(?:{sign}|{code}|{word})(?![\w])"
           rf"|{words}(?:[\s-]{words})*\s(?:{word})(?![\w])")
    per = rf"(?:\s?/\s?|\s(?:per|an?|la|pro|par|por|al|à|a|le|il|o)\s){alternation(lex.per_units)}(?![\w])" \
        if lex.per_units else r"(?!x)x"
    money = rf"(?:{one})(?:{RANGE}(?:{one}|{amount}))?(?:{per})?"
    percent = rf"(?<![\w])[-−–]?\s?{number}\s?(?:%|{alternation(lex.percent_words)}(?![\w]))"
    month, weekday = alternation(lex.months), alternation(lex.weekdays)
    day = r"\d{1,2}(?:st|nd|rd|th|er|º|°|\.)?"
    on_day = rf"(?:{weekday}s?,?\s+)?"
    date_one = (rf"{on_day}(?:{month})\.?\s+{day}(?![\d])|{on_day}{day}\s+(?:de\s+|of\s+)?(?:{month})\.?(?:\s+(?:de\s+)?\d{{4}})?"
                rf"|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|{weekday}s?(?![\w])")
    date = rf"(?<![\w])(?:{date_one})(?:{RANGE}(?:{date_one}|\d{{1,2}}(?![\d:])))?"
    clock = r"\d{1,2}(?:[:.h]\d{2})?"
    ampm = r"(?:[ap]\.?m\.?|Uhr|h)(?![\w])"
    time = rf"(?<![\w\d]){clock}\s?(?:{RANGE}{clock}\s?)?{ampm}|(?<![\w\d])\d{{1,2}}[:h]\d{{2}}(?![\d])"
    duration = rf"(?<![\w]){number}[\s-]{alternation(lex.durations)}(?![\w])" if lex.durations else r"(?!x)x"
    buy, get = alternation(lex.multi_buy.buy), alternation(lex.multi_buy.get)
    joiner = alternation(lex.multi_buy.joiners)
    multi = [rf"(?<![\w]){buy}\s+{number}(?:\s+[^\W\d]+){{0,3}},?\s+{get}\s+(?:[^\W\d]+\s+)??{number}(?:st|nd|rd|th)?",
             rf"(?<![\w])(?:{words}|\d)\s?{joiner}\s?(?:{words}|\d)(?![\w\d])"]
    if lex.multi_buy.price_of:  # "4 tickets for the price of 3", "double scoop for the price of a single"
        some = rf"(?:{number}|{alternation(lex.multi_buy.counts)})" if lex.multi_buy.counts else number
        multi.append(rf"(?<![\w]){some}(?:\s+[^\W\d]+){{0,3}}\s+{alternation(lex.multi_buy.price_of)}\s+{some}"
                     rf"(?![\w])")
    if lex.multi_buy.named:
        multi.append(rf"(?<![\w]){alternation(lex.multi_buy.named)}(?![\w])")
    return {
        "dimension": re.compile(r"(?<![\w])\d{2,4}\s?[x×]\s?\d{2,4}(?![\w])|(?<![\w\d])(?:1:1|4:5|9:16|16:9|1\.91:1)(?![\d])"),
        "money": re.compile(rf"(?<![\w])(?:{money})", re.IGNORECASE),
        "percent": re.compile(percent, re.IGNORECASE),
        "multi_buy": re.compile("|".join(multi), re.IGNORECASE),
        "date": re.compile(date, re.IGNORECASE),
        "time": re.compile(time, re.IGNORECASE),
        "duration": re.compile(duration, re.IGNORECASE),
        "code": re.compile(r"(?<![\w])(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d)[A-Z0-9]{4,}(?![\w])"),
        "number": re.compile(rf"(?<![\w]){number}(?![\w])", re.IGNORECASE),
    }


def quantities(text: str, lex: Lexicon) -> list[Quantity]:
    """Every quantity of `text`, in text order, none overlapping another."""
    taken: list[Quantity] = []
    for kind in ORDER:
        for m in _patterns(lex.language)[kind].finditer(text):
            start, end = m.start(), m.end()
            while end > start and text[end - 1] in " .,":  # "Nov 15." keeps its full stop out
                end -= 1
            while start < end and text[start] == " ":
                start += 1
            if end > start and not any(q.start < end and start < q.end for q in taken):
                taken.append(Quantity(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda q: q.start)


def number_value(text: str, language: str) -> float | None:
    """The value of a number as written ("1,299.50", "19,99", "twenty-five", "veinte"); None if not a number."""
    thousands = 1000.0 if re.search(r"\d\s?[kK]\b", text) else 1.0  # "65k"
    digits = re.sub(r"[^\d.,]", "", text)
    if digits:
        value = _digits_value(digits)
        return value * thousands if value is not None else None
    try:
        return float(text2num(text.replace("-", " ").casefold(), language))
    except ValueError:
        return None


def _digits_value(digits: str) -> float | None:
    grouped = re.fullmatch(r"(\d{1,3}(?:([,.])\d{3})+)(?:(?!\2)[.,](\d{1,2}))?", digits)
    if grouped:  # "1,299.50", "1.299,50", "12,000"
        return float(re.sub(r"\D", "", grouped[1]) + (f".{grouped[3]}" if grouped[3] else ""))
    return float(digits.replace(",", ".")) if digits.count(",") + digits.count(".") <= 1 else None
