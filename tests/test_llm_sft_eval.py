"""The held-out generation eval of the LLM SFT recipe scores answers the way the serving path reads them
(the recipe's generation itself runs in tests/test_train_jobs.py, on a real cluster)."""

from __future__ import annotations

import json

import pytest

from adgenesis.paths import DATA_DIR
from train_jobs.llm_sft import parse_row, score_outputs


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with open(DATA_DIR / "design_sft" / "validation.jsonl", encoding="utf-8") as fh:
        return [parse_row(line) for line, _ in zip(fh, range(3))]


def test_rates_count_json_valid_and_good_answers(rows):
    outputs = [(rows[0]["answer"], "stop"),  # the target brief: parses, lays out, passes the checks
               (json.dumps({"headline": 1}), "stop"),  # JSON, but not a brief the layout engine accepts
               ("Sure! Here is your ad:", "stop")]  # prose
    scored = score_outputs(rows, outputs)
    assert scored["json_rate"] == pytest.approx(2 / 3)
    assert scored["validity_rate"] == pytest.approx(1 / 3) and scored["valid"] == 1
    assert scored["quality_rate"] == pytest.approx(1 / 3)
    assert [s["valid"] for s in scored["samples"]] == [True, False, False]
    assert scored["samples"][0]["error"] is None and scored["samples"][2]["error"]


def test_every_prompt_needs_an_answer(rows):
    with pytest.raises(ValueError):
        score_outputs(rows, [(rows[0]["answer"], "stop")])
