"""The vLLM engine class our LLM replicas run: Ray's `VLLMEngine` with LoRA loading made safe under concurrency.

Ray's `resolve_lora` asks "is this adapter loaded?" and, if not, loads it, with no lock between the two.
Two first requests for the same adapter (two clients right after a promotion) both load it, and vLLM
refuses the second ("has already been loaded"), which reached the caller as a 500. A lock per adapter
makes the second request wait for the first load and then find the adapter there.

Selected through Ray's `RAYLLM_VLLM_ENGINE_CLS` (see `deployments.llm.llm_config`), so importing vLLM
stays inside the replica.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from adgenesis.ray_compat import VLLMEngine


class LoraSafeVLLMEngine(VLLMEngine):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lora_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def resolve_lora(self, disk_lora_model) -> None:
        async with self._lora_locks[disk_lora_model.model_id]:
            await super().resolve_lora(disk_lora_model)
