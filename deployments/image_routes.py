"""The image routes: /v1/images (a prompt -> FLUX PNG, what was drawn in its headers), /v1/captions (a photo -> BLIP
caption) and /v1/product-descriptions (a photo -> its caption -> the LLM's shop copy: adgenesis/engines/assistant.py).
A mixin of the ingress, with its route table (ROUTES, merged into the ingress's); photos are read and decoded at the
edge (deployments/uploads.py), so a bad upload reaches no model."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import Request
from fastapi.responses import Response
from PIL import Image
from ray.serve.handle import DeploymentHandle

from adgenesis.engines import assistant
from adgenesis.errors import DependencyFailed, Invalid, Malformed, TooLarge, UnsupportedMedia
from adgenesis.protocol import CaptionRequest, CaptionResponse, ImageRequest, ProductDescriptionResponse
from adgenesis.settings import Limits
from deployments.design_routes import PNG
from deployments.http_errors import BUSY, PROMPTED, answers
from deployments.uploads import body_schema, decode_photo, read_photo


class ImageRoutes:
    """Mixed into AdGenesisIngress: its `_call` sends a call through a handle, `_check_prompt` holds a prompt to the
    limits, `_models` gives the assistant its models."""

    _image_gen: DeploymentHandle
    _captioner: DeploymentHandle
    _limits: Limits
    _models: Callable[[Mapping[str, str], str | None], assistant.Models]

    async def images(self, body: ImageRequest) -> Response:
        image = await self._call(self._image_gen.generate,
                                 body.model_copy(update={"prompt": self._check_prompt(body.prompt)}))
        # Header values must be latin-1 and single-line; the prompt as the model saw it may be neither.
        headers = {f"x-adgenesis-{k.replace('_', '-')}": str(v)
                   for k, v in image.model_dump(exclude={"png", "prompt"}).items()}
        return Response(content=image.png, media_type="image/png", headers=headers)

    async def captions(self, request: Request) -> CaptionResponse:
        image, prompt = await read_photo(request, self._limits)
        if prompt is not None:
            prompt = self._check_prompt(str(prompt))
        return await self._call(self._captioner.caption, CaptionRequest(image=image, prompt=prompt))

    async def product_descriptions(self, request: Request) -> ProductDescriptionResponse:
        image, _ = await read_photo(request, self._limits)
        return await self.describe_product(image)

    async def describe_product(self, image: Image.Image | bytes) -> ProductDescriptionResponse:
        """The route above, and each row of batch_jobs.product_descriptions (which sends the file's bytes through
        this deployment's handle)."""
        if isinstance(image, bytes):
            image = decode_photo(image, self._limits)
        return await assistant.describe_product(image, self._models({}, None))


# A photo: multipart or JSON, decoded and checked against the limits at the edge; an optional prompt too long.
PHOTO = {**answers(Malformed, TooLarge, UnsupportedMedia), **BUSY}
ROUTES = {
    "images": lambda app: app.post(
        "/v1/images", response_class=Response, responses={200: PNG, **PROMPTED, **answers(Invalid)}, tags=["images"]
    ),
    "captions": lambda app: app.post(
        "/v1/captions", response_model=CaptionResponse, responses=PHOTO, tags=["images"],
        openapi_extra=body_schema(("prompt", {"type": "string"}), optional=("prompt",), as_json="image_base64"),
    ),
    "product_descriptions": lambda app: app.post(
        "/v1/product-descriptions", response_model=ProductDescriptionResponse,
        responses={**PHOTO, **answers(DependencyFailed)}, tags=["images"],
        openapi_extra=body_schema(as_json="image_base64"),
    ),
}
