"""Design-spec deployment: (prompt, platform, format) -> checked layouts, via the LLM server's handle.

brief mode: prompt -> LLM (a ~60-token brief) -> layout engine -> quality checks; free mode: the LLM writes
the layout itself, which is repaired and validated. Both end in the same quality checks (engines/quality.py).
"""

from __future__ import annotations

import asyncio
import io
import random
import time

from PIL import Image

from ray import serve
from ray.exceptions import RayError
from ray.serve.handle import DeploymentHandle
from ray.serve.llm.openai_api_models import ChatCompletionRequest, ErrorResponse

from adgenesis import metrics
from adgenesis.engines.classifier import folder_version
from adgenesis.engines.design import LayoutError, build_messages, finish, response_format
from adgenesis.engines.quality import QualityReport, check
from adgenesis.engines.render import render_png
from adgenesis.lifecycle.aliases import AliasResolver
from adgenesis.paths import resolve
from adgenesis.protocol import DesignRequest, DesignResponse
from adgenesis.schema import Design, UnknownCanvas, canvas_for
from adgenesis.settings import LLMSettings
from deployments.errors import RequestError
from deployments.llm import UnknownAdapter, adapter_path


def _last_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:500] if lines else type(exc).__name__


@serve.deployment(
    ray_actor_options={"num_cpus": 0.1},
    max_ongoing_requests=64,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
)
class DesignSpec:
    # Each layout gets one more try with another seed before the request fails.
    RETRIES = 1

    def __init__(self, llm: DeploymentHandle, image_gen: DeploymentHandle, settings: dict):
        self._settings = LLMSettings.model_validate(settings)
        self._image_gen = image_gen
        self._lora_dir = resolve(self._settings.lora_dir) if self._settings.lora_dir else None
        self._aliases = AliasResolver(self._lora_dir)
        self._llm = llm.options(stream=True)
        metrics.ServedModel(self._settings.model_id).set(folder_version(resolve(self._settings.model_source)))

    async def ready(self) -> bool:
        """True once the LLM server answers: its replica only starts serving after vLLM has loaded."""
        await self._llm.options(stream=False).check_health.remote()
        return True

    def _handle(self, model: str) -> DeploymentHandle:
        if model == self._settings.model_id:
            return self._llm
        base, _, _ = model.partition(":")
        if base != self._settings.model_id:
            raise RequestError(404, f"unknown model {model!r}; this server serves {self._settings.model_id!r} and its adapters")
        try:
            adapter_path(self._lora_dir, model)
        except UnknownAdapter as exc:
            raise RequestError(404, str(exc)) from None
        # Multiplexing routes an adapter's requests to replicas that already hold it.
        return self._llm.options(multiplexed_model_id=model)

    async def _complete(self, handle: DeploymentHandle, request: ChatCompletionRequest):
        try:
            async for response in handle.chat.remote(request, None):
                if isinstance(response, ErrorResponse):
                    code = response.error.code if 400 <= response.error.code < 500 else 502
                    raise RequestError(code, response.error.message)
                return response
        except RayError as exc:  # the LLM replica raised (e.g. an adapter failed to load): its message, not a bare 500
            raise RequestError(502, f"LLM server error: {_last_line(exc)}") from None
        raise RequestError(502, "LLM server returned no response")

    async def generate(self, req: DesignRequest) -> DesignResponse:
        """Layouts for the request; a layout that misses a quality check gets one more try with another seed."""
        start = time.perf_counter()
        try:
            canvas = canvas_for(req.platform, req.format)
        except UnknownCanvas as exc:
            raise RequestError(422, str(exc)) from None
        requested = req.model or self._settings.model_id
        # Per request: a promotion takes effect with the next request, under a model id no replica has cached yet.
        model = self._aliases.resolve_model(requested)
        handle = self._handle(model)
        budget = self._settings.brief_max_tokens if req.mode == "brief" else self._settings.design_max_tokens
        seed = req.seed if req.seed is not None else random.randrange(2**31)
        kept: list[tuple[Design, QualityReport, str]] = []  # passed every check, with its outcome
        spare: list[tuple[Design, QualityReport, str]] = []  # valid, but missed a check
        usage, errors = {"prompt_tokens": 0, "completion_tokens": 0}, []
        for attempt in range(1 + self.RETRIES):
            missing = req.n - len(kept)
            if missing == 0:
                break
            request = ChatCompletionRequest(
                model=model,
                messages=build_messages(req.prompt, canvas, req.mode),
                response_format=response_format(canvas, req.mode),
                max_tokens=budget,
                temperature=self._settings.temperature,
                n=missing,
                seed=seed + attempt * 7919,
            )
            response = await self._complete(handle, request)
            usage["prompt_tokens"] += response.usage.prompt_tokens
            usage["completion_tokens"] += response.usage.completion_tokens
            for i, choice in enumerate(response.choices):
                try:
                    design, repaired = finish(choice.message.content or "", canvas, req.mode, choice.finish_reason,
                                              variant=seed + i + attempt)
                except LayoutError as exc:
                    errors.append(str(exc))
                    metrics.record_design("invalid", req.mode, model)
                    continue
                report = check(design, req.prompt)
                outcome = "retried" if attempt else "repaired" if repaired else "first_try"
                (kept if report.passed else spare).append((design, report, outcome))
        chosen = (kept + spare)[: req.n]
        if len(chosen) < req.n:
            metrics.record_design("refused", req.mode, model)
            raise RequestError(
                422,
                f"the model could not produce {req.n} valid layout(s) within {budget} tokens ({len(chosen)} valid); "
                f"try a shorter prompt or fewer designs. Last error: {errors[-1]}",
            )
        for _, report, outcome in chosen:
            metrics.record_design(outcome if report.passed else "missed_checks", req.mode, model,
                                  tokens=usage["completion_tokens"] // len(chosen))
        return DesignResponse(
            model=requested,
            model_version=model,
            designs=[d for d, _, _ in chosen],
            quality=[q for _, q, _ in chosen],
            usage=usage,
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    async def render(self, design: Design, images: bool = False, seed: int | None = None) -> bytes:
        """The layout as a PNG; with `images`, each image slot drawn by the image model from its description."""
        pictures: dict[int, Image.Image] = {}
        if images:
            slots = [(i, el) for i, el in enumerate(design.elements) if el.type == "image"]
            results = await asyncio.gather(*(
                self._image_gen.generate.remote(el.description, platform=design.platform, format=design.format,
                                                seed=seed) for _, el in slots))
            pictures = {i: Image.open(io.BytesIO(r["png"])) for (i, _), r in zip(slots, results)}
        return await asyncio.to_thread(render_png, design, pictures)
