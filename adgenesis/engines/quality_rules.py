"""The thresholds an ad is held to (`configs/design/quality.yaml`): the checks judge by them and the layout engine
builds to them, so tightening a rule is a data change."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from adgenesis import paths

RULES_PATH = "configs/design/quality.yaml"


class QualityRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    headline_min_px: float = Field(16, gt=0)
    headline_min_fraction: float = Field(0.045, ge=0, lt=1)
    text_min_px: float = Field(10, gt=0)
    text_min_fraction: float = Field(0.022, ge=0, lt=1)
    cta_max_words: int = Field(4, ge=1)
    cta_max_chars: int = Field(24, ge=1)
    min_elements: int = Field(3, ge=1)
    max_elements: int = Field(6, ge=1)
    logo_min_px: float = Field(20, gt=0)
    min_contrast: float = Field(4.5, ge=1, le=21)
    min_contrast_large: float = Field(3.0, ge=1, le=21)
    large_text_fraction: float = Field(0.05, ge=0, lt=1)
    large_text_bold_factor: float = Field(0.8, gt=0, le=1)
    align_tolerance_fraction: float = Field(0.01, ge=0, lt=0.5)
    name_match_ratio: float = Field(0.8, gt=0, le=1)
    max_word_repeats: int = Field(2, ge=1)
    company_suffixes: tuple[str, ...] = ()
    field_labels: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def default_rules() -> QualityRules:
    return load_rules(paths.resolve(RULES_PATH))


def load_rules(path: str | Path) -> QualityRules:
    return QualityRules.model_validate(yaml.safe_load(Path(path).read_text()) or {})
