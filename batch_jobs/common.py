"""What every batch job shares: the output folder that lets a rerun resume, and the Ray Data pipeline (with a
progress bar) whose workers call the running AdGenesis app. Input rows are read and checked by adgenesis/rows.py.

Output folder of a job:

    parts/<hash of the batch's ids>.jsonl   results of one batch, written whole (temp file + rename)
    errors/<same hash>.jsonl                its failed rows: {"id", "status", "error"}
    results.jsonl, errors.jsonl             every part merged in input order, at the end
    summary.json                            {"rows", "done", "failed", "resumed"}: rows = done + failed

A rerun with the same output skips every id already in a part, so a killed job finishes with each row
exactly once. A batch whose task Ray retries writes the same part name again (named by its ids).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from adgenesis.errors import Malformed, RequestError
from adgenesis.files import write_atomic
from adgenesis.rows import InputError, Row
from deployments.http_errors import status_of

APP = "adgenesis"  # the Serve application the jobs call (configs/serve_local.yaml, serve_config.yaml)


def error_message(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, message) of a failed call: the status the API would answer (deployments/http_errors.py), and
    the message's last line."""
    if isinstance(exc, ValidationError):  # a row's body the API would refuse as malformed
        first = exc.errors()[0]
        exc = Malformed(f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}")
    elif not isinstance(exc, RequestError):
        cause = getattr(exc, "cause", None)  # RayTaskError wraps what the replica raised
        if cause is not None and cause is not exc:
            return error_message(cause)
    message = exc.message if isinstance(exc, RequestError) else str(exc)
    lines = [line for line in message.splitlines() if line.strip()]
    return status_of(exc), (lines[-1] if lines else type(exc).__name__)[:1000]


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
    """A Ray Data actor: runs a batch of rows and writes the batch's part. Subclasses say how rows run
    (`outcomes`), and what the actor needs: `BATCH_SIZE` rows per call, `CONCURRENCY` actors, `IN_FLIGHT` calls
    running at once in each (threads: `outcomes` must be thread-safe when above 1), `remote_args()`."""

    BATCH_SIZE = 16
    CONCURRENCY = 4
    IN_FLIGHT = 1

    def __init__(self, output: str):
        self.output = Output(Path(output))

    @classmethod
    def remote_args(cls) -> dict:
        return {"num_cpus": 0.1}  # it waits on the app; the app's replicas do the work

    @classmethod
    def options(cls, rows: list[Row]) -> dict:
        """Constructor arguments besides `output` that depend on the job's rows (none by default)."""
        return {}

    def outcomes(self, rows: list[dict]) -> list[dict | Exception]:
        """Each row's result fields, or the exception that failed it."""
        raise NotImplementedError

    def __call__(self, batch: dict) -> dict:
        rows = [json.loads(r) for r in batch["row"]]
        results, errors = [], []
        for row, outcome in zip(rows, self.outcomes(rows)):
            if isinstance(outcome, Exception):  # recorded with its id, the job goes on
                status, message = error_message(outcome)
                errors.append({"id": row["id"], "status": status, "error": message})
            else:
                results.append({"id": row["id"], **outcome})
        self.output.write_part([row["id"] for row in rows], results, errors)
        failed = {e["id"] for e in errors}
        return {"id": [row["id"] for row in rows], "ok": [row["id"] not in failed for row in rows]}


class AppWorker(Worker):
    """Calls the running AdGenesis app through its Serve handle: fires every row's call of a batch at once
    (so the app's replicas batch them), then waits. Subclasses say what a row's call is."""

    def __init__(self, output: str):
        from ray import serve

        super().__init__(output)
        self.app = serve.get_app_handle(APP)

    def start(self, row: dict):
        raise NotImplementedError

    def finish(self, row: dict, pending) -> dict:
        raise NotImplementedError

    def outcomes(self, rows: list[dict]) -> list[dict | Exception]:
        calls = []
        for row in rows:
            try:
                calls.append(self.start(row))
            except Exception as exc:  # noqa: BLE001 - a bad row fails alone
                calls.append(exc)
        out: list[dict | Exception] = []
        for row, pending in zip(rows, calls):
            try:
                if isinstance(pending, Exception):
                    raise pending
                out.append(self.finish(row, pending))
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
        return out


def run(job: str, rows: list[Row], worker: type[Worker], output: Path, batch_size: int | None = None,
        concurrency: int | None = None) -> dict:
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
            worker, fn_constructor_kwargs={"output": str(out.folder), **worker.options(todo)}, batch_size=batch_size or worker.BATCH_SIZE,
            # Ray Data runs one call of a class at a time per actor unless told it may run more (true threads).
            compute=ray.data.ActorPoolStrategy(size=concurrency or worker.CONCURRENCY,
                                               max_concurrent_calls_per_actor=worker.IN_FLIGHT,
                                               enable_true_multi_threading=worker.IN_FLIGHT > 1),
            **worker.remote_args())
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
    parser.add_argument("--batch-size", type=int, help=f"rows per worker call (default {worker.BATCH_SIZE})")
    parser.add_argument("--concurrency", type=int, help=f"Ray Data workers (default {worker.CONCURRENCY})")
    args = parser.parse_args()
    try:
        rows = rows_from(args.input)
    except InputError as exc:
        raise SystemExit(f"input refused: {exc}") from None
    summary = run(job, rows, worker, args.output, args.batch_size, args.concurrency)
    if finish is not None:
        finish(args.output)
    print(summary)
