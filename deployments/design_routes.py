"""The design routes: /v1/designs (a brief -> checked layouts), /v1/designs/render (a layout -> PNG, with its brand
kit's version), the canvas presets and the old ML service's /generate. A mixin of the ingress, with its route table
(ROUTES, merged into the ingress's): the key's brand kit is resolved here (deployments/brand_kit_routes.py), and
DesignSpec (deployments/design_spec.py) does the rest, the request's checks included (`DesignModels.plan`)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import Response
from ray.serve.handle import DeploymentHandle

from adgenesis.errors import DependencyFailed, Invalid
from adgenesis.protocol import DesignRequest, DesignResponse, LegacyGenerateRequest, RenderRequest
from adgenesis.schema import CANVAS_PRESETS
from deployments import brand_kit_routes, telemetry
from deployments.http_errors import PROMPTED, answers


class DesignRoutes:
    """Mixed into AdGenesisIngress, whose `_call` sends a call through a handle and `resolve_kit` finds a kit."""

    _design: DeploymentHandle

    async def designs(self, body: DesignRequest, request: Request = None) -> DesignResponse:
        # batch_jobs/openai_batch.py calls this through the ingress's handle with the body alone: no request, no key.
        if request is None:
            return await self.designed(body, {}, None)
        return await self.designed(body, request.headers, telemetry.request_id(request))

    async def designed(self, body: DesignRequest, headers: Mapping[str, str], request_id: str | None) -> DesignResponse:
        """The layouts for a caller whose `headers` carry the key that decides which brand kits it may name."""
        # The kit's access rules hold here (401, 404 for another workspace's); the design engine draws with it.
        kit = await self.resolve_kit(headers, body.brand_kit) if body.brand_kit is not None else None
        return await self._call(self._design.generate, body, kit, request_id)

    async def design_render(self, body: RenderRequest, request: Request) -> Response:
        """A design that records its kit is drawn with that version (an edit since does not change it); one that does
        not, with the latest version of the kit the request names."""
        kit = None
        if body.design.brand_kit is not None:
            kit = await self.resolve_kit(request.headers, body.design.brand_kit.id, body.design.brand_kit.version)
        elif body.brand_kit is not None:
            kit = await self.resolve_kit(request.headers, body.brand_kit)
        png = await self._call(self._design.render, body.design, body.images, body.seed, kit)
        return Response(content=png, media_type="image/png")

    async def design_presets(self) -> dict:
        return {p: {f: {"width": w, "height": h} for f, (w, h) in fmts.items()} for p, fmts in CANVAS_PRESETS.items()}

    async def legacy_generate(self, body: LegacyGenerateRequest, request: Request) -> dict:
        """The old ML service's contract: one layout object for {prompt, platform, format}."""
        response = await self.designed(DesignRequest(prompt=body.prompt, platform=body.platform, format=body.format),
                                       request.headers, telemetry.request_id(request))
        return response.designs[0].model_dump()


PNG = {"content": {"image/png": {}}}
# A design: its copy from the LLM server (which may fail), no passing layout from either model, a `brand_kit` the key
# may not use.
DESIGN = {**PROMPTED, **answers(Invalid, DependencyFailed), **brand_kit_routes.KIT_USE}
ROUTES = {
    "designs": lambda app: app.post("/v1/designs", response_model=DesignResponse, responses=DESIGN, tags=["designs"]),
    "design_presets": lambda app: app.get("/v1/designs/presets", tags=["designs"]),
    "design_render": lambda app: app.post(
        "/v1/designs/render", response_class=Response, responses={200: PNG, **DESIGN}, tags=["designs"],
        summary="A layout drawn as a PNG with its real fonts",
    ),
    "legacy_generate": lambda app: app.post("/generate", responses=DESIGN, tags=["designs"],
                                            summary="Old ML-service contract"),
}
