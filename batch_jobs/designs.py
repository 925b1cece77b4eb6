"""designs: catalogue rows {id, prompt, platform, format, n?, seed?, model?, mode?, brand_kit?} -> layouts, one result
per row.

    python -m batch_jobs.designs --input data/catalogue/designs.jsonl --output runs/batch/designs

Each row runs the API's own design code (`engines.design`: the same limits, prompts, schemas, retries and quality
checks as `/v1/designs`) on a vLLM engine the job holds in a Ray Data actor, built from the profile's LLM settings
as the Serve replica's is (`adgenesis.engines.vllm_setup.engine_setup`): the same base model folder, LoRA adapters and
promoted aliases (`design-llm:production`), resolved per row as the API resolves them per request
(`engines.design.DesignModels.plan`). A row's `brand_kit` is read from the profile's brand-kit store as the operator
who runs the job (the admin: any workspace's kit, by id; a row naming one that is not there fails with a 404).

Why an engine of its own and not the running app (2-core CPU machine, 199 catalogue rows,
benchmarks/batch_throughput.py, docs/batch.md): through the app's handle the job made 1.25x the API's rows/min at
concurrency 8 (121.1 vs 96.5), every row crossing the ingress, the design replica and Ray's OpenAI server on the
cores the engine decodes on. With an engine of its own, on every core, two calls of 64 rows in flight, and the
machine to itself (the app shut down), 2.48x and 2.66x in two runs (51.3 vs 20.7 and 56.4 vs 21.2 rows/min, its
engine's start included).
It holds a second copy of the model and KV cache (on a GPU cluster: a GPU of its own, `num_gpus` below) for as
long as the job runs. Ray Data's own vLLM processor (`ray.data.llm`) reserves a GPU bundle per engine unless given
a placement group, and runs tokenizing and detokenizing as stages of their own; this job needs the API's retries
between generations, so it holds the engine itself.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from pathlib import Path

from adgenesis.engines.design import Answer, Ask, Completion, DesignModels, make_layouts
from adgenesis.errors import Conflict
from adgenesis.protocol import DesignRequest
from adgenesis.settings import load_profile
from adgenesis.rows import Row, read_rows
from batch_jobs.common import Worker, cli
from adgenesis.engines.vllm_setup import engine_setup, model_folder


class DesignRow(Row, DesignRequest):
    pass


class Designer(Worker):
    BATCH_SIZE = 64  # rows per call; IN_FLIGHT calls per actor keep the engine's sequences full through a call's tail
    CONCURRENCY = 1  # engines (actors): one per GPU, or per CPU node
    IN_FLIGHT = 2

    @classmethod
    def remote_args(cls) -> dict:
        llm = load_profile().llm
        gpus = {} if llm.accelerator == "cpu" else {"num_gpus": llm.tensor_parallel_size}
        return {"num_cpus": 1, **gpus}

    @classmethod
    def options(cls, rows: list[DesignRow]) -> dict:
        # LoRA slows every decoding step on CPU (docs/batch.md has the numbers): on only when a row names an adapter.
        # The default model is the merged fine-tuned one, no adapter.
        llm = load_profile().llm
        models = DesignModels(llm)
        return {"lora": any(models.resolve(row.model) != llm.model_id for row in rows)}

    def __init__(self, output: str, lora: bool = True):
        super().__init__(output)
        profile = load_profile()
        self.settings = profile.llm
        if not lora:
            self.settings = self.settings.model_copy(update={"lora_dir": None})
        # The profile's adapters even with LoRA off (a 409, not a 404), and its limits.
        self.models = DesignModels(profile.llm, profile.limits)
        self.store_settings, self.store = profile.store, None  # the brand kits', opened by the first row naming one
        self.adapters: dict[str, object] = {}  # model id -> vLLM LoRARequest
        # One event loop in a thread of its own: the engine lives there, and each call's rows are gathered on it.
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="engine-loop").start()
        self.engine = self._wait(self._start())
        self.tokenizer = self.engine.get_tokenizer()

    async def _start(self):
        from adgenesis.ray_compat import AsyncEngineArgs, AsyncLLM

        # vLLM's default binds its threads to every core but one, which it leaves to its scheduler process; the
        # job's engine has its node, and decodes faster on all of them (docs/batch.md).
        kwargs, env = engine_setup(self.settings.model_copy(update={"cpu_threads_bind": "all"}))
        os.environ.update(env)
        if self.settings.accelerator == "cpu":
            # Ray sets OMP_NUM_THREADS to the actor's num_cpus (1); vLLM's CPU backend binds its own threads to
            # the cores, and decodes far slower when held to one.
            os.environ.pop("OMP_NUM_THREADS", None)
            # vLLM's CPU platform runs the model in a worker process of its own unless V1 multiprocessing is off;
            # off, it runs in the engine core's process (AsyncLLM keeps that one): one process fewer to spawn and
            # import vLLM into, so the engine starts in about half the time (docs/batch.md). The Serve replica
            # cannot: Ray's LLMServer sets the "mp" executor on CPU.
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        return AsyncLLM.from_engine_args(AsyncEngineArgs(model=model_folder(self.settings), disable_log_stats=True,
                                                         **kwargs))

    def __del__(self):  # the engine's core process goes with the actor, not at interpreter teardown
        if getattr(self, "engine", None) is not None:
            self.engine.shutdown()

    def _wait(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def outcomes(self, rows: list[dict]) -> list[dict | Exception]:
        async def every_row():
            return await asyncio.gather(*(self._design(row) for row in rows), return_exceptions=True)

        return self._wait(every_row())

    def _lora(self, model: str, folder: Path | None):
        from adgenesis.ray_compat import LoRARequest

        if folder is None:
            return None
        if model not in self.adapters:
            self.adapters[model] = LoRARequest(model, len(self.adapters) + 1, str(folder))
        return self.adapters[model]

    def _look(self, ref: str):
        """The kit a row names, as the operator may read it, its files opened."""
        from adgenesis.engines.kit import look_of
        from adgenesis.store.keys import ADMIN
        from adgenesis.store.store import Store

        if self.store is None:
            self.store = Store.open(self.store_settings)
        return look_of(self.store.resolve(ADMIN, ref), self.store_settings)

    async def _design(self, row: dict) -> dict:
        req = DesignRequest(**{k: v for k, v in row.items() if k != "id"})
        look = await asyncio.to_thread(self._look, req.brand_kit) if req.brand_kit else None
        plan = self.models.plan(req, look)  # in the loop's order: the rows reach the engine as they came
        lora = self._lora(plan.model, plan.adapter)
        if lora is not None and not self.settings.lora_dir:  # an alias promoted to an adapter after the job began
            raise Conflict(f"{req.model!r} became adapter {plan.model!r} after this job started; run it again")

        async def complete(ask: Ask) -> Completion:
            from adgenesis.ray_compat import RequestOutputKind, SamplingParams, StructuredOutputsParams, TokensPrompt

            # Tokenized as vLLM's OpenAI server does for /v1/chat/completions: the chat template, no extra specials.
            text = self.tokenizer.apply_chat_template(ask.messages, add_generation_prompt=True, tokenize=False)
            prompt = TokensPrompt(prompt_token_ids=self.tokenizer.encode(text, add_special_tokens=False))
            params = SamplingParams(
                n=ask.n, max_tokens=ask.max_tokens, temperature=self.settings.temperature, seed=ask.seed,
                structured_outputs=StructuredOutputsParams(json=ask.response_format["json_schema"]["schema"]),
                output_kind=RequestOutputKind.FINAL_ONLY)
            final = None
            async for final in self.engine.generate(prompt, params, uuid.uuid4().hex, lora_request=lora):
                pass
            return Completion([Answer(o.text, o.finish_reason) for o in final.outputs], len(final.prompt_token_ids),
                              sum(len(o.token_ids) for o in final.outputs))

        result = await make_layouts(plan, req.mode, req.n, complete)
        return {"designs": [c.design.model_dump(mode="json") for c in result.chosen],
                "quality": [c.report.model_dump(mode="json") for c in result.chosen],
                "composed_from_facts": [c.composed_from_facts for c in result.chosen],
                "model": plan.model}


def main() -> None:
    cli("designs", __doc__, lambda path: read_rows(path, DesignRow), Designer)


if __name__ == "__main__":
    main()
