"""openai_batch: an OpenAI Batch API input file -> its output and error files, in OpenAI's formats.

    python -m batch_jobs.openai_batch --input requests.jsonl --output runs/batches/<batch id>

Each input line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions" | "/v1/designs", "body"}`;
each goes through the running app's own code for that route (the ingress's `chat_completion` or `designs`,
via its Serve handle). `POST /v1/batches` runs this as a Ray Job (adgenesis/lifecycle/batches.py); it also
runs by hand. Output: `output.jsonl` (`{"id", "custom_id", "response": {"status_code", "body"}, "error": null}`)
and `error.jsonl` (`{"id", "custom_id", "response": null, "error": {"code", "message"}}`), beside the parts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ray.serve.llm.openai_api_models import ChatCompletionRequest

from adgenesis.files import write_atomic
from adgenesis.protocol import BatchRequestLine, DesignRequest
from adgenesis.rows import read_rows
from batch_jobs.common import AppWorker, cli

class Requester(AppWorker):
    def start(self, row: dict):
        if row["url"] == "/v1/designs":
            return self.app.designs.remote(DesignRequest.model_validate(row["body"]))
        return self.app.chat_completion.remote(ChatCompletionRequest.model_validate(row["body"]))

    def finish(self, row: dict, pending) -> dict:
        body = pending.result()
        return {"body": body if isinstance(body, dict) else body.model_dump(mode="json")}


def request_id(custom_id: str) -> str:
    return "batch_req_" + hashlib.sha256(custom_id.encode()).hexdigest()[:24]


def write_openai_files(output: Path) -> None:
    """output.jsonl and error.jsonl in the OpenAI Batch formats, from the job's results.jsonl and errors.jsonl."""
    def lines(name: str) -> list[dict]:
        return [json.loads(line) for line in (output / name).read_text().splitlines() if line.strip()]

    done = [{"id": request_id(r["id"]), "custom_id": r["id"], "response": {"status_code": 200, "body": r["body"]},
             "error": None} for r in lines("results.jsonl")]
    failed = [{"id": request_id(e["id"]), "custom_id": e["id"], "response": None,
               "error": {"code": str(e["status"]), "message": e["error"]}} for e in lines("errors.jsonl")]
    write_atomic(output / "output.jsonl", "".join(json.dumps(r) + "\n" for r in done))
    write_atomic(output / "error.jsonl", "".join(json.dumps(r) + "\n" for r in failed))


def main() -> None:
    cli("openai_batch", __doc__, lambda path: read_rows(path, BatchRequestLine), Requester, write_openai_files)


if __name__ == "__main__":
    main()
