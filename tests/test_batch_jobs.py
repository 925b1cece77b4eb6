"""Batch jobs without Ray: input checking with line numbers, the output folder that makes reruns resume,
error messages. The pipelines against the real app: tests/integration/test_batch.py."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adgenesis.engines.design import SEED_STEP
from adgenesis.errors import Invalid
from adgenesis.rows import InputError, read_rows
from batch_jobs.common import Output, error_message
from batch_jobs.designs import Designer, DesignRow
from batch_jobs.images import ImageRow
from adgenesis.protocol import BatchRequestLine
from batch_jobs.openai_batch import write_openai_files

GOOD = {"prompt": "Spring sale on linen shirts, 30% off", "platform": "meta", "format": "square"}


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("bad, where, says", [
    ("{not json", "line 2", "not JSON"),
    ({"id": "b", "platform": "meta", "format": "square"}, "line 2", "prompt"),
    (GOOD | {"id": "a"}, "line 2", "used twice"),
    (GOOD | {"id": "c", "colour": "red"}, "line 2", "colour"),
    ("[1, 2]", "line 2", "object"),
])
def test_a_malformed_file_is_refused_naming_the_line(tmp_path, bad, where, says):
    path = write_jsonl(tmp_path / "in.jsonl", [GOOD | {"id": "a"}, bad])
    with pytest.raises(InputError) as exc:
        read_rows(path, DesignRow)
    assert where in str(exc.value) and says in str(exc.value)


def test_csv_and_parquet_read_like_jsonl(tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_text("id,prompt,platform,format,n\n1,Spring sale,meta,square,\n2,Winter sale,x,landscape,2\n")
    rows = read_rows(csv, DesignRow)
    assert [(r.id, r.n) for r in rows] == [("1", 1), ("2", 2)]
    table = pa.Table.from_pylist([GOOD | {"id": "p1"}, GOOD | {"id": "p2", "seed": None}])
    pq.write_table(table, tmp_path / "in.parquet")
    assert [r.id for r in read_rows(tmp_path / "in.parquet", DesignRow)] == ["p1", "p2"]
    csv.write_text("id,prompt,platform,format,n\n1,Spring sale,meta,square,many\n")
    with pytest.raises(InputError, match="line 2: n"):
        read_rows(csv, DesignRow)


def test_ids_that_name_files_cannot_name_paths(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "../../etc/x", "prompt": "a cat"}])
    with pytest.raises(InputError, match="names the row's file"):
        read_rows(path, ImageRow)


def test_output_resumes_from_parts_and_merges_in_input_order(tmp_path):
    rows = read_rows(write_jsonl(tmp_path / "in.jsonl", [GOOD | {"id": i} for i in ("a", "b", "c")]), DesignRow)
    out = Output(tmp_path / "out")
    out.prepare()
    out.write_part(["c", "a"], [{"id": "c", "x": 3}], [{"id": "a", "status": 422, "error": "unknown platform"}])
    out.write_part(["a", "c"], [{"id": "c", "x": 3}], [{"id": "a", "status": 422, "error": "unknown platform"}])  # a retry
    results, errors = out.finished()
    assert [r["id"] for r in results] == ["c"] and [e["id"] for e in errors] == ["a"]
    out.write_part(["b"], [{"id": "b", "x": 2}], [])
    assert out.merge(rows, resumed=2) == {"rows": 3, "done": 2, "failed": 1, "resumed": 2}
    assert [json.loads(l)["id"] for l in (tmp_path / "out" / "results.jsonl").read_text().splitlines()] == ["b", "c"]
    assert not list((tmp_path / "out" / "parts").glob(".tmp-*"))


def test_error_messages_keep_the_api_status():
    assert error_message(Invalid("unknown platform 'facebook'")) == (422, "unknown platform 'facebook'")
    assert error_message(RuntimeError("boom\n  at line 3\nValueError: deep cause")) == (500, "ValueError: deep cause")
    with pytest.raises(Exception) as exc:
        DesignRow.model_validate({"id": "x"})
    assert error_message(exc.value)[0] == 400


def test_openai_files_in_openai_formats(tmp_path):
    line = BatchRequestLine.model_validate({"custom_id": "req-1", "method": "POST", "url": "/v1/designs", "body": GOOD})
    assert line.id == "req-1"
    write_jsonl(tmp_path / "results.jsonl", [{"id": "req-1", "body": {"designs": []}}])
    write_jsonl(tmp_path / "errors.jsonl", [{"id": "req-2", "status": 422, "error": "unknown platform"}])
    write_openai_files(tmp_path)
    done = json.loads((tmp_path / "output.jsonl").read_text())
    failed = json.loads((tmp_path / "error.jsonl").read_text())
    assert done["custom_id"] == "req-1" and done["response"]["status_code"] == 200 and done["error"] is None
    assert failed["custom_id"] == "req-2" and failed["error"] == {"code": "422", "message": "unknown platform"}
    assert done["id"].startswith("batch_req_")


COPY = {"headline": "Spring sale on linen shirts", "subline": "30% off", "palette": "fresh"}


class FakeEngine:
    """vLLM's AsyncLLM as the designs job uses it: a tokenizer, and final outputs (`text`) per request."""

    def __init__(self):
        self.requests, self.text = [], json.dumps(COPY)

    def get_tokenizer(self):
        return SimpleNamespace(apply_chat_template=lambda messages, **_: json.dumps(messages),
                               encode=lambda text, **_: list(range(len(text) // 10)))

    async def generate(self, prompt, params, request_id, lora_request=None):
        self.requests.append((params, lora_request))
        out = SimpleNamespace(text=self.text, finish_reason="stop", token_ids=[0] * 60)
        yield SimpleNamespace(outputs=[out] * params.n, prompt_token_ids=prompt["prompt_token_ids"])

    def shutdown(self):
        pass


class FakeDesigner(Designer):
    async def _start(self):
        return FakeEngine()


def test_the_designs_job_runs_the_apis_design_code_on_its_own_engine(tmp_path):
    designer = FakeDesigner(str(tmp_path))
    rows = [GOOD | {"id": "ok", "seed": 3, "n": 2},
            GOOD | {"id": "adapter", "model": "design-llm:base"},
            GOOD | {"id": "platform", "platform": "myspace"},
            GOOD | {"id": "model", "model": "design-llm:nope"},
            GOOD | {"id": "blank", "prompt": "  "}]
    ok, adapter, *failed = designer.outcomes(rows)
    assert len(ok["designs"]) == 2 and all(q["passed"] for q in ok["quality"]) and ok["model"] == "design-llm"
    assert adapter["model"] == "design-llm:base"
    assert [error_message(e)[0] for e in failed] == [422, 404, 400]
    (first, no_lora), (_, lora) = designer.engine.requests
    assert first.seed == 3 and first.n == 2 and first.max_tokens == designer.settings.brief_max_tokens
    assert no_lora is None and lora.lora_name == "design-llm:base"


def test_a_row_the_model_makes_no_layout_for_is_composed_from_its_facts_and_an_adapter_without_lora_a_409(tmp_path):
    designer = FakeDesigner(str(tmp_path), lora=False)
    designer.engine.text = '{"headline": "30% off'
    composed, adapter = designer.outcomes([GOOD | {"id": "a", "seed": 3},
                                           GOOD | {"id": "b", "model": "design-llm:base"}])
    assert composed["composed_from_facts"] == [True] and composed["quality"][0]["passed"]
    assert [params.seed for params, _ in designer.engine.requests] == [3, 3 + SEED_STEP]
    assert error_message(adapter) == (409, "'design-llm:base' became adapter 'design-llm:base' after this job "
                                           "started; run it again")


def test_the_designs_engine_loads_lora_only_for_rows_that_name_an_adapter():
    plain = DesignRow(id="a", **GOOD)
    assert Designer.options([plain]) == {"lora": False}
    assert Designer.options([plain, DesignRow(id="b", model="design-llm:base", **GOOD)]) == {"lora": True}
