"""The OpenAI-compatible routes: Ray's own (`OpenAiIngress`: /v1/chat/completions, /v1/completions, /v1/models),
with the profile's adapters listed as models and the chat routes answered by the instruct base, never by the
brief-tuned weights; and the one chat the product's own routes ask for (`_chat`), through the upstream when the
local LLM cannot answer. A mixin of the ingress, with its route table (ROUTES, merged into the ingress's)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from ray.serve.handle import DeploymentHandle
from ray.serve.llm.openai_api_models import ChatCompletionRequest, ErrorResponse

from adgenesis.engines.adapters import adapter_names
from adgenesis.engines.aliases import AliasResolver
from adgenesis.engines.upstream import Upstream
from adgenesis.errors import DependencyFailed
from adgenesis.paths import resolve
from adgenesis.protocol import ErrorBody, RequestFormatErrorBody, ServedBy
from adgenesis.ray_compat import ChatCompletionRequest as OpenAIChatRequest
from adgenesis.ray_compat import CompletionRequest, ModelCard, ModelList, OpenAiIngress, model_cards, openai_responses
from adgenesis.settings import LLMSettings
from deployments import http_errors
from deployments.fallback import make_fallback
from deployments.http_errors import BUSY
from deployments.llm import chat_once


class OpenAiRoutes(OpenAiIngress):
    """Mixed into AdGenesisIngress, which calls `_init_openai` from its own __init__."""

    def _init_openai(self, llm_deployments: dict[str, DeploymentHandle], settings: LLMSettings,
                     chat_upstream: dict | None) -> None:
        self._llm_settings = settings
        self._lora_dir = resolve(settings.lora_dir) if settings.lora_dir else None
        self._llm = llm_deployments[settings.model_id]
        self._adapter_aliases = AliasResolver(self._lora_dir)
        # Messages from an upstream model when the local LLM cannot answer (Profile.upstream, docs/reliability.md).
        self._chat_fallback = make_fallback("conversation", chat_upstream, self._llm)

    async def _chat(self, messages: list[dict[str, str]]) -> tuple[str, ServedBy, str]:
        """The LLM's answer to the messages, which model gave it (the upstream when ours could not) and its id."""
        params = {"max_tokens": self._llm_settings.chat_max_tokens, "temperature": self._llm_settings.temperature}
        model = self._resolve_model(None)

        async def local() -> str:
            handle = self._llm.options(stream=True, **({"multiplexed_model_id": model} if ":" in model else {}))
            request = ChatCompletionRequest(model=model, messages=messages, **params)
            return (await chat_once(handle, request)).choices[0].message.content or ""

        async def upstream(up: Upstream) -> str:
            return (await up.chat(messages, **params)).choices[0].message.content or ""

        text, served_by = await self._chat_fallback.run(local, upstream)
        return text.strip(), served_by, model if served_by == "local" else self._chat_fallback.upstream.settings.model

    async def model(self, model_id: str) -> ModelCard | None:
        base, _, adapter = model_id.partition(":")
        card = model_cards(self).get(base)
        target = self._adapter_aliases.resolve(adapter) if adapter else ""
        if card is None or (adapter and target not in adapter_names(self._lora_dir)):
            return None
        if not adapter:
            return card
        metadata = {**card.metadata, "adapter": target}
        if target != adapter:
            metadata["alias_of"] = f"{base}:{target}"
        return card.model_copy(update={"id": model_id, "metadata": metadata})

    async def models(self) -> ModelList:
        cards = []
        for base in model_cards(self):
            cards.append(await self.model(base))
            names = adapter_names(self._lora_dir) + sorted(self._adapter_aliases.aliases())
            cards += [card for name in names if (card := await self.model(f"{base}:{name}")) is not None]
        return ModelList(data=cards)

    def _resolve_model(self, model: str | None) -> str:
        """The model a chat route answers with: the profile's chat model where the request names the default (or
        none), so a chat is never answered by the brief-tuned weights; each adapter version is its own multiplexed
        id (adgenesis/engines/aliases.py)."""
        if not model or model == self._llm_settings.model_id:
            model = self._llm_settings.chat_model or self._llm_settings.model_id
        return self._adapter_aliases.resolve_model(model)

    async def chat(self, body: OpenAIChatRequest, request: Request) -> Response:
        return await super().chat(body.model_copy(update={"model": self._resolve_model(body.model)}), request)

    async def chat_completion(self, body: OpenAIChatRequest) -> dict:
        """One non-streaming chat completion, as the route's JSON body: each `/v1/chat/completions` line of
        an OpenAI batch (batch_jobs/openai_batch.py) comes through here via this deployment's handle."""
        body = body.model_copy(update={"model": self._resolve_model(body.model), "stream": False})
        async for response in openai_responses(self, body, "chat"):
            if isinstance(response, ErrorResponse):
                raise http_errors.error_for_status(response.error.code, response.error.message)
            return response.model_dump(mode="json")
        raise DependencyFailed("LLM returned no response")

    async def completions(self, body: CompletionRequest, request: Request) -> Response:
        return await super().completions(body.model_copy(update={"model": self._resolve_model(body.model)}), request)


# Ray's OpenAI routes: vLLM's refusals in OpenAI's error body, a body that does not parse in ours; an unknown model.
OPENAI = {400: {"model": ErrorResponse | ErrorBody | RequestFormatErrorBody, "description": "A request vLLM refuses, "
                "or one that does not match the schema"},
          404: {"model": ErrorResponse | ErrorBody, "description": "No such model, or adapter of it"},
          **BUSY}
ROUTES = {
    "models": lambda app: app.get("/v1/models", response_model=ModelList, tags=["openai"]),
    "model_data": lambda app: app.get("/v1/models/{model:path}", response_model=ModelCard,
                                      responses={404: OPENAI[404]}, tags=["openai"]),
    "completions": lambda app: app.post("/v1/completions", responses=OPENAI, tags=["openai"]),
    "chat": lambda app: app.post("/v1/chat/completions", responses=OPENAI, tags=["openai"]),
}
