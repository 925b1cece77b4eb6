"""The OpenAI Batch API subset: uploaded request files and batches that run them as Ray Jobs
(`python -m batch_jobs.openai_batch`), so `client.batches.create(...)` from the `openai` package works here.

    <runs>/batches/files/<file id>.jsonl (+ .json: its FileObject)   uploads (purpose "batch")
    <runs>/batches/<batch id>/batch.json                              the batch as created
    <runs>/batches/<batch id>/{parts,errors}/, output.jsonl, ...      the job's output folder (batch_jobs/common.py)

Ids are made here and checked against their pattern before they touch a path, so no id can name a path.
The output and error files are served under ids derived from the batch's. Every call blocks (files,
HTTP to the dashboard): the Lifecycle replica runs them (deployments/lifecycle.py), behind the same API key as
training jobs.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import sys
import time
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from adgenesis import paths
from adgenesis.files import atomic_path
from adgenesis.lifecycle.dashboard import dashboard_address
from adgenesis.errors import Malformed, NotFound, TooLarge
from adgenesis.lifecycle.ray_jobs import job_client, stop_job
from adgenesis.protocol import Batch, BatchCreateRequest, BatchList, BatchRequestCounts, BatchRequestLine, FileObject
from adgenesis.service_errors import dashboard_call
from adgenesis.rows import InputError, read_rows
from adgenesis.settings import LifecycleSettings

KIND = "openai_batch"  # the Ray Job's `kind` metadata (adgenesis_jobs{kind}) and the job module's name
_FILE_ID = re.compile(r"^file-(?P<hex>[0-9a-f]{24})(?P<out>-output|-errors)?$")
_BATCH_ID = re.compile(r"^batch_[0-9a-f]{24}$")
_STATUS = {"PENDING": "validating", "RUNNING": "in_progress", "SUCCEEDED": "completed", "FAILED": "failed",
           "STOPPED": "cancelled"}


class _GoneJob(NamedTuple):
    status: str
    message: str
    start_time: int | None = None
    end_time: int | None = None


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()) if path.is_file() else 0


class Batches:
    def __init__(self, settings: LifecycleSettings, max_file_bytes: int):
        self.settings = settings
        self.max_file_bytes = max_file_bytes
        self.root = paths.RUNS_DIR / "batches"
        self.files = self.root / "files"
        self.files.mkdir(parents=True, exist_ok=True)

    @cached_property  # made on first use, in the replica: Ray's client asks the dashboard for its version when made
    def client(self):
        return job_client(dashboard_address(self.settings.ray_dashboard))

    # ---- files ------------------------------------------------------------------------------------

    def create_file(self, filename: str, data: bytes, purpose: str) -> FileObject:
        if purpose != "batch":
            raise Malformed(f"purpose must be 'batch', not {purpose!r}")
        if len(data) > self.max_file_bytes:
            raise TooLarge(f"file of {len(data)} bytes is over the {self.max_file_bytes}-byte limit")
        file_id = f"file-{secrets.token_hex(12)}"
        path = self.files / f"{file_id}.jsonl"
        with atomic_path(path) as tmp:  # in place only once checked; removed when refused
            tmp.write_bytes(data)
            try:  # checked like the job will read it: a bad line is refused now, with its number
                rows = read_rows(tmp, BatchRequestLine)
            except (InputError, UnicodeDecodeError) as exc:
                raise Malformed(f"not an OpenAI batch file: {str(exc).replace(tmp.name, filename)}") from None
            if len(rows) > self.settings.batch_max_requests:
                raise Malformed(f"{len(rows)} requests; a batch holds at most {self.settings.batch_max_requests}")
        obj = FileObject(id=file_id, bytes=len(data), created_at=int(time.time()), filename=filename[:255] or "batch.jsonl",
                         purpose="batch")
        (self.files / f"{file_id}.json").write_text(obj.model_dump_json())
        return obj

    def _file_path(self, file_id: str) -> tuple[Path, FileObject]:
        match = _FILE_ID.match(file_id or "")
        if match and match["out"]:  # a batch's output or error file
            folder = self.root / f"batch_{match['hex']}"
            path = folder / ("output.jsonl" if match["out"] == "-output" else "error.jsonl")
            if path.is_file():
                return path, FileObject(id=file_id, bytes=path.stat().st_size, created_at=int(path.stat().st_mtime),
                                        filename=path.name, purpose="batch_output")
        elif match and (self.files / f"{file_id}.json").is_file():
            return self.files / f"{file_id}.jsonl", FileObject.model_validate_json((self.files / f"{file_id}.json").read_text())
        raise NotFound(f"no file {file_id!r}")

    def get_file(self, file_id: str) -> FileObject:
        return self._file_path(file_id)[1]

    def file_content(self, file_id: str) -> Path:
        return self._file_path(file_id)[0]

    # ---- batches ----------------------------------------------------------------------------------

    def create(self, request: BatchCreateRequest) -> Batch:
        source, _ = self._file_path(request.input_file_id)
        if _FILE_ID.match(request.input_file_id)["out"]:
            raise Malformed("input_file_id must be an uploaded file with purpose 'batch'")
        urls = {json.loads(line)["url"] for line in source.read_text().splitlines() if line.strip()}
        if urls != {request.endpoint}:
            raise Malformed(f"every request in the file must be for {request.endpoint}; it has {sorted(urls)}")
        batch_id = f"batch_{secrets.token_hex(12)}"
        folder = self.root / batch_id
        folder.mkdir(parents=True)
        meta = {"id": batch_id, "endpoint": request.endpoint, "input_file_id": request.input_file_id,
                "created_at": int(time.time()), "metadata": request.metadata, "total": _lines(source)}
        (folder / "batch.json").write_text(json.dumps(meta))
        python = self.settings.job_python or sys.executable
        entrypoint = " ".join([shlex.quote(python), "-m", f"batch_jobs.{KIND}", "--input", shlex.quote(str(source)),
                               "--output", shlex.quote(str(folder))])
        env = {"ADGENESIS_RUNS_DIR": str(paths.RUNS_DIR.resolve()), **self.settings.job_env}
        with dashboard_call("Ray Jobs refused the batch"):
            self.client.submit_job(entrypoint=entrypoint, submission_id=batch_id, runtime_env={"env_vars": env},
                                   metadata={"adgenesis": "batch", "kind": KIND})
        return self.get(batch_id)

    def _meta(self, batch_id: str) -> dict:
        if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id) or not (self.root / batch_id / "batch.json").is_file():
            raise NotFound(f"no batch {batch_id!r}")
        return json.loads((self.root / batch_id / "batch.json").read_text())

    def get(self, batch_id: str) -> Batch:
        meta = self._meta(batch_id)
        folder = self.root / batch_id
        try:
            with dashboard_call("Ray Jobs API error", not_found=f"no Ray job {batch_id!r}"):
                info = self.client.get_job_info(batch_id)
        except NotFound:
            # The runs folder outlived the cluster that ran this batch: what it left on disk is all there is.
            info = _GoneJob("SUCCEEDED" if (folder / "output.jsonl").is_file() else "STOPPED" if meta.get("cancelling_at")
                            else "FAILED", "its Ray job is unknown to this cluster (restarted?) and it left no output")
        job_status = str(getattr(info.status, "value", info.status))
        status = _STATUS.get(job_status, "in_progress")
        if status in ("validating", "in_progress") and meta.get("cancelling_at"):
            status = "cancelling"
            # Ray ignores a stop sent while the job was PENDING (ray-project/ray#58353): send it again until it ends.
            stop_job(self.client, batch_id)
        hexid = batch_id.removeprefix("batch_")
        done = status == "completed" and (folder / "output.jsonl").is_file()
        end = int(info.end_time / 1000) if info.end_time else None
        return Batch(
            id=batch_id, endpoint=meta["endpoint"], input_file_id=meta["input_file_id"], status=status,
            output_file_id=f"file-{hexid}-output" if done else None,
            error_file_id=f"file-{hexid}-errors" if done and _lines(folder / "error.jsonl") else None,
            created_at=meta["created_at"], in_progress_at=int(info.start_time / 1000) if info.start_time else None,
            completed_at=end if status == "completed" else None, failed_at=end if status == "failed" else None,
            cancelling_at=meta.get("cancelling_at"), cancelled_at=end if status == "cancelled" else None,
            request_counts=BatchRequestCounts(total=meta["total"], completed=sum(map(_lines, (folder / "parts").glob("*.jsonl"))),
                                              failed=sum(map(_lines, (folder / "errors").glob("*.jsonl")))),
            metadata=meta.get("metadata"),
            errors={"data": [{"message": (info.message or "the batch job failed")[-2000:]}]} if status == "failed" else None,
        )

    def cancel(self, batch_id: str) -> Batch:
        meta = self._meta(batch_id)
        if not meta.get("cancelling_at"):
            meta["cancelling_at"] = int(time.time())
            (self.root / batch_id / "batch.json").write_text(json.dumps(meta))
        stop_job(self.client, batch_id)
        return self.get(batch_id)

    def list(self) -> BatchList:
        ids = sorted((p.parent.name for p in self.root.glob("batch_*/batch.json")),
                     key=lambda i: self._meta(i)["created_at"], reverse=True)
        return BatchList(data=[self.get(i) for i in ids])
