"""Rows of a batch input file (JSONL, CSV or Parquet), each checked against a pydantic row type before any work
starts: the batch jobs read their input with this, and the Lifecycle checks an uploaded OpenAI batch file with it
(adgenesis/lifecycle/batches.py), so a bad line is refused the same way, with its number, in both places."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adgenesis.paths import SAFE_NAME_RULE, is_safe_name


class InputError(ValueError):
    """The input file cannot be read as rows: refused before any work starts."""


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256, description="unique in the file; how results and errors name the row")

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class NamedRow(Row):
    """A row whose id also names a file of the output."""

    @field_validator("id")
    @classmethod
    def _file_name(cls, value: str) -> str:
        if not is_safe_name(value):
            raise ValueError(f"id must be {SAFE_NAME_RULE}: it names the row's file")
        return value


def _records(path: Path) -> Iterable[tuple[str, dict]]:
    """(where, record) for each row of a JSONL, CSV or Parquet file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{path.name} line {number}: not JSON ({exc.msg})") from None
                    yield f"line {number}", record
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            for record in reader:  # empty cells are absent fields, as in JSON
                yield f"line {reader.line_num}", {k: v for k, v in record.items() if v not in ("", None)}
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for number, record in enumerate(pq.read_table(path).to_pylist(), 1):
            yield f"row {number}", {k: v for k, v in record.items() if v is not None}
    else:
        raise InputError(f"{path.name}: use .jsonl, .csv or .parquet")


def read_rows(path: Path, row_type: type[Row]) -> list[Row]:
    """Every row of `path` checked against `row_type`; the first bad one refuses the file, naming its line."""
    if not path.is_file():
        raise InputError(f"no input file {path}")
    rows, seen = [], set()
    for where, record in _records(path):
        if not isinstance(record, dict):
            raise InputError(f"{path.name} {where}: a row must be an object")
        try:
            row = row_type.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(map(str, first["loc"])) or "row"
            raise InputError(f"{path.name} {where}: {field}: {first['msg']}") from None
        if row.id in seen:
            raise InputError(f"{path.name} {where}: id {row.id!r} is used twice")
        seen.add(row.id)
        rows.append(row)
    if not rows:
        raise InputError(f"{path.name}: no rows")
    return rows
