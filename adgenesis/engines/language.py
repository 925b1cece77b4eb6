"""The language of a brief: py3langid's naive Bayes model over 97 languages (the model ships in the wheel, 4.6 MB;
~0.1 ms a brief), read against the six the ad can be written in.

    detect("Anuncio de Instagram para Zapatería Lumbre: hasta 40% en abrigos")
    -> LanguageReport(detected="es", confidence=0.99, used="es", supported=True, named=False)

A brief is mostly names, numbers and the platform's English words ("Instagram story"), so a weak reading of the
whole model is settled among the six alone; a confident reading of another language (Polish, Dutch) says the ad's
own words (vocabulary, CTA) will be English around the brief's spans. docs/design.md has the measured choice.
"""

from __future__ import annotations

from functools import lru_cache

from adgenesis.brief import LANGUAGES, Language, LanguageReport
from adgenesis.engines.lexicon import DEFAULT_LANGUAGE, detection_rules


@lru_cache(maxsize=1)
def _models():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    every = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    six = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    six.set_languages(list(LANGUAGES))
    return every, six


def detect(text: str, named: Language | None = None) -> LanguageReport:
    """The brief's language, or the one the request names (`named`): what the ad's words are chosen in."""
    rules = detection_rules()
    every, six = _models()
    detected, confidence = every.classify(text)
    confidence = float(confidence)
    if named is not None:
        return LanguageReport(detected=detected, confidence=round(confidence, 3), used=named, supported=True,
                              named=True)
    if detected in LANGUAGES and confidence >= rules.min_confidence:
        return LanguageReport(detected=detected, confidence=round(confidence, 3), used=detected, supported=True)
    if detected not in LANGUAGES and confidence >= rules.min_confidence_other:
        return LanguageReport(detected=detected, confidence=round(confidence, 3), used=DEFAULT_LANGUAGE,
                              supported=False)
    best, best_confidence = six.classify(text)
    used = best if best_confidence >= rules.min_confidence_six else DEFAULT_LANGUAGE
    return LanguageReport(detected=best, confidence=round(float(best_confidence), 3), used=used, supported=True)
