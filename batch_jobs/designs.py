"""designs: catalogue rows {id, prompt, platform, format, n?, seed?, model?, mode?} -> layouts, one result per row.

    python -m batch_jobs.designs --input data/catalogue/designs.jsonl --output runs/batch/designs

Each row goes through the running app's own `/v1/designs` code (the ingress's `designs` method, via its
Serve handle): the same limits, model, schema, retries and quality checks as the API.

Why the app and not a vLLM engine of its own per Ray Data actor (measured on the 2-core CPU machine,
benchmarks/batch_throughput.py, 199 catalogue rows): through the app the job makes 121 rows/min with 64 rows in
flight, against 96-103 for the API at concurrency 8 (1.25x); a `vllm.LLM` of its own (48 sequences, the same
prompts, schema and checks; benchmarks/batch_engine_offline.py) made 191 rows/min once loaded (22 s), ~1.9x,
but serves neither adapters nor promoted versions the way the app does, and holds a second copy of the model
and KV cache next to the app's.
"""

from __future__ import annotations

from adgenesis.protocol import DesignRequest
from batch_jobs.common import Row, Worker, cli, read_rows


class DesignRow(Row, DesignRequest):
    pass


class Designer(Worker):
    def start(self, row: dict):
        return self.app.designs.remote(DesignRequest(**{k: v for k, v in row.items() if k != "id"}))

    def finish(self, row: dict, pending) -> dict:
        response = pending.result()
        return {"designs": [d.model_dump(mode="json") for d in response.designs],
                "quality": [q.model_dump(mode="json") for q in response.quality],
                "model": response.model_version or response.model}


def main() -> None:
    cli("designs", __doc__, lambda path: read_rows(path, DesignRow), Designer)


if __name__ == "__main__":
    main()
