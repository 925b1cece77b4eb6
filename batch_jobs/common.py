"""What every batch job shares: reading and checking the input, the output folder that lets a rerun resume,
and the Ray Data pipeline (with a progress bar) whose workers call the running AdGenesis app.

Output folder of a job:

    parts/<hash of the batch's ids>.jsonl   results of one batch, written whole (temp file + rename)
    errors/<same hash>.jsonl                its failed rows: {"id", "status", "error"}
    results.jsonl, errors.jsonl             every part merged in input order, at the end
    summary.json                            {"rows", "done", "failed", "resumed"}: rows = done + failed

A rerun with the same output skips every id already in a part, so a killed job finishes with each row
exactly once. A batch whose task Ray retries writes the same part name again (named by its ids).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adgenesis.lifecycle.aliases import valid_name

APP = "adgenesis"  # the Serve application the jobs call (configs/serve_local.yaml, serve_config.yaml)


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
        if not valid_name(value):
            raise ValueError("id must be 1-128 letters, digits, '.', '_' or '-' (no '..'): it names the row's file")
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


def error_message(exc: BaseException) -> tuple[int, str]:
    """(HTTP-like status, message) of a failed call: the 4xx the API would answer, else 500 and the last line."""
    if isinstance(exc, ValidationError):  # a row's body the API would refuse with a 400
        first = exc.errors()[0]
        return 400, f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}"
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "detail", None) or getattr(exc, "message", None)
    if status is None or message is None:
        cause = getattr(exc, "cause", None)  # RayTaskError wraps what the replica raised
        if cause is not None and cause is not exc:
            return error_message(cause)
    lines = [line for line in str(message or exc).splitlines() if line.strip()]
    return int(status or 500), (lines[-1] if lines else type(exc).__name__)[:1000]


def write_atomic(path: Path, data: bytes | str) -> None:
    """Readers (and a rerun) see the whole file or none of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)


class Output:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.parts, self.errors = self.folder / "parts", self.folder / "errors"

    def prepare(self) -> None:
        self.parts.mkdir(parents=True, exist_ok=True)
        self.errors.mkdir(parents=True, exist_ok=True)

    def _read(self, folder: Path) -> list[dict]:
        return [json.loads(line) for part in sorted(folder.glob("*.jsonl"))
                for line in part.read_text(encoding="utf-8").splitlines() if line.strip()]

    def finished(self) -> tuple[list[dict], list[dict]]:
        return self._read(self.parts), self._read(self.errors)

    def write_part(self, ids: list[str], results: list[dict], errors: list[dict]) -> None:
        name = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16] + ".jsonl"
        for folder, records in ((self.errors, errors), (self.parts, results)):  # results last: they mark "done"
            write_atomic(folder / name, "".join(json.dumps(r) + "\n" for r in records))


    def merge(self, rows: list[Row], resumed: int) -> dict:
        """results.jsonl and errors.jsonl in input order, and summary.json."""
        results, errors = self.finished()
        order = {row.id: i for i, row in enumerate(rows)}
        for name, records in (("results.jsonl", results), ("errors.jsonl", errors)):
            records = sorted((r for r in records if r["id"] in order), key=lambda r: order[r["id"]])
            write_atomic(self.folder / name, "".join(json.dumps(r) + "\n" for r in records))
        done = {r["id"] for r in results} & order.keys()
        failed = {r["id"] for r in errors} & order.keys() - done
        summary = {"rows": len(rows), "done": len(done), "failed": len(failed), "resumed": resumed}
        write_atomic(self.folder / "summary.json", json.dumps(summary, indent=2) + "\n")
        return summary


class Worker:
    """A Ray Data actor: for each batch it fires every row's call at the app at once (so the app's
    replicas batch them), then waits, and writes the batch's part. Subclasses say what a row's call is."""

    def __init__(self, output: str):
        from ray import serve

        self.output = Output(Path(output))
        self.app = serve.get_app_handle(APP)

    def start(self, row: dict):
        raise NotImplementedError

    def finish(self, row: dict, pending) -> dict:
        raise NotImplementedError

    def __call__(self, batch: dict) -> dict:
        rows = [json.loads(r) for r in batch["row"]]
        calls = []
        for row in rows:
            try:
                calls.append((row, self.start(row), None))
            except Exception as exc:  # noqa: BLE001 - a bad row fails alone
                calls.append((row, None, exc))
        results, errors = [], []
        for row, pending, failure in calls:
            try:
                if failure is not None:
                    raise failure
                results.append({"id": row["id"], **self.finish(row, pending)})
            except Exception as exc:  # noqa: BLE001 - recorded with its id, the job goes on
                status, message = error_message(exc)
                errors.append({"id": row["id"], "status": status, "error": message})
        self.output.write_part([row["id"] for row in rows], results, errors)
        return {"id": [row["id"] for row in rows], "ok": [row["id"] not in {e["id"] for e in errors} for row in rows]}


def run(job: str, rows: list[Row], worker: type[Worker], output: Path, batch_size: int, concurrency: int) -> dict:
    """Run the rows no earlier run finished through `worker` in a Ray Data pipeline; returns the summary."""
    import ray
    from tqdm import tqdm

    out = Output(output)
    out.prepare()
    results, errors = out.finished()
    finished = {r["id"] for r in results} | {r["id"] for r in errors}
    todo = [row for row in rows if row.id not in finished]
    if todo:
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), log_to_driver=False)
        ds = ray.data.from_items([{"row": row.model_dump_json()} for row in todo]).map_batches(
            worker, fn_constructor_kwargs={"output": str(out.folder)}, batch_size=batch_size,
            concurrency=concurrency, num_cpus=0.1)  # the workers wait on the app; the app's replicas do the work
        with tqdm(total=len(rows), initial=len(rows) - len(todo), desc=job, unit="row") as bar:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                bar.update(len(batch["id"]))
    return out.merge(rows, resumed=len(rows) - len(todo))


def cli(job: str, doc: str, rows_from: Callable[[Path], list[Row]], worker: type[Worker],
         finish: Callable[[Path], None] | None = None) -> None:
    """The command line every job has: --input, --output (rerun to resume), --batch-size, --concurrency."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help=".jsonl, .csv or .parquet")
    parser.add_argument("--output", type=Path, required=True, help="a folder; rerun with the same one to resume")
    # 16 x 4 = 64 rows in flight, the local LLM's max_num_seqs: 121 rows/min here (32 x 2: 122; 16 x 2 at 16 seqs: 96).
    parser.add_argument("--batch-size", type=int, default=16, help="rows per worker call, fired at once")
    parser.add_argument("--concurrency", type=int, default=4, help="Ray Data workers")
    args = parser.parse_args()
    try:
        rows = rows_from(args.input)
    except InputError as exc:
        raise SystemExit(f"input refused: {exc}") from None
    summary = run(job, rows, worker, args.output, args.batch_size, args.concurrency)
    if finish is not None:
        finish(args.output)
    print(summary)
