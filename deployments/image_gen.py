"""FLUX image generation as a Serve deployment; returns PNG bytes plus what was actually generated."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from ray import serve

from adgenesis import metrics
from adgenesis.checksum import folder_version
from adgenesis.engines.image_gen import ImageGenEngine, apply_trigger
from adgenesis.images import png_bytes
from adgenesis.lifecycle.aliases import AliasResolver
from adgenesis.paths import resolve
from adgenesis.settings import ImageGenSettings


@serve.deployment(
    ray_actor_options={"num_cpus": 1},
    # The pipeline runs one image at a time per replica; a short queue keeps latency honest and lets
    # the autoscaler see the load instead of hiding it in a long per-replica queue.
    max_ongoing_requests=4,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 2},
    health_check_period_s=10,
)
class ImageGen:
    def __init__(self, settings: ImageGenSettings | dict[str, Any]):
        self.settings = ImageGenSettings.model_validate(settings)
        self.engine = ImageGenEngine(self.settings)
        metrics.ServedModel("image-gen").set(folder_version(resolve(self.settings.model_path)))
        # `lora=production` (or a registered model's name) -> the promoted, versioned adapter folder.
        self.aliases = AliasResolver(resolve(self.settings.lora_dir) if self.settings.lora_dir else None)

    async def generate(
        self,
        prompt: str,
        *,
        size: str | None = None,
        platform: str | None = None,
        format: str | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        lora: str | None = None,
        lora_weight: float = 1.0,
    ) -> dict[str, Any]:
        """-> {"png": bytes, "width", "height", "seed", "steps", "guidance_scale", "lora" (alias resolved),
        "lora_alias", "lora_weight",
        "prompt" (as the model saw it), "elapsed_ms"}. Raises ImageRequestError for a bad request."""
        width, height = self.engine.size_for(size, platform, format)
        # Drawn here rather than in the engine so the response can report it and the image can be remade.
        seed = random.randrange(2**31) if seed is None else seed
        steps = self.settings.default_steps if steps is None else steps
        guidance_scale = self.settings.guidance_scale if guidance_scale is None else guidance_scale
        requested_lora = lora
        lora = self.aliases.resolve(lora) if lora else None
        trigger = self.engine.adapter(lora).trigger_word if lora else None
        start = time.perf_counter()
        # The pipeline blocks for seconds; in a thread the replica still answers health checks and queues.
        image = await asyncio.to_thread(
            self.engine.generate,
            prompt,
            width=width,
            height=height,
            steps=steps,
            guidance_scale=guidance_scale,
            seed=seed,
            lora=lora,
            lora_weight=lora_weight,
        )
        data = await asyncio.to_thread(png_bytes, image)
        metrics.record_image(width, height, steps, lora)
        return {
            "png": data,
            "width": width,
            "height": height,
            "seed": seed,
            "steps": steps,
            "guidance_scale": guidance_scale,
            "lora": lora,
            "lora_alias": requested_lora if requested_lora != lora else None,
            "lora_weight": lora_weight if lora else None,
            "prompt": apply_trigger(prompt, trigger),
            "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
        }

    async def ready(self) -> bool:
        return self.engine.ready

    def check_health(self) -> None:
        if not self.engine.ready:
            raise RuntimeError("image pipeline not loaded")
