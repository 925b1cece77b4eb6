"""Request bodies under a size limit, multipart forms parsed by Starlette's own parser, and photos read from either.

The limit is checked before the body is read: from the declared content-length at once, and for a body sent
without one (chunked) as soon as what arrived passes it. Forms are parsed by `Request.form` with limits on
files, fields and field size, so no upload is held in memory whole before it is known to fit.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from fastapi import Request
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from adgenesis.errors import Malformed, TooLarge, UnsupportedMedia
from adgenesis.images import decode_base64_image, load_image
from adgenesis.settings import Limits
from deployments.http_errors import error_for_status

MULTIPART = "multipart/form-data"
FRAMING_BYTES = 64 * 1024  # boundaries and part headers around an upload of the limit's size
MAX_FORWARD_SIDE = 1024  # a photo's longest side as sent on to a model


def body_schema(*fields: tuple[str, dict], optional: tuple[str, ...] = (), as_json: str | None = None) -> dict:
    """A route's OpenAPI request body (`openapi_extra=`) where it reads the body itself, after the key and the size
    check: a multipart form of a `file` and `fields`; with `as_json`, also a JSON object of the fields with the file
    base64-encoded in the field `as_json`. Every field is required but the `optional` ones."""
    def form(file: str, encoded: dict) -> dict:
        properties = {file: {"type": "string", **encoded}, **dict(fields)}
        return {"schema": {"type": "object", "properties": properties,
                           "required": [name for name in properties if name not in optional]}}
    content = {MULTIPART: form("file", {"format": "binary"})}
    if as_json is not None:
        content["application/json"] = form(as_json, {"contentEncoding": "base64"})
    return {"requestBody": {"required": True, "content": content}}


class Upload(NamedTuple):
    filename: str
    data: bytes


def capped(request: Request, limit: int) -> Request:
    """The same request, whose body answers 413 as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body of {declared} bytes is over the {limit}-byte limit")
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise TooLarge(f"request body is over the {limit}-byte limit")
        return message

    return Request(request.scope, receive)


async def read_form(request: Request, limit: int, *, max_fields: int = 4) -> dict[str, str | Upload]:
    """A multipart body's fields, its one file read as an Upload; a malformed body (no boundary, bad framing,
    too many parts) is a 400 with Starlette's reason."""
    try:
        form = await capped(request, limit).form(max_files=1, max_fields=max_fields, max_part_size=limit)
    except StarletteHTTPException as exc:
        raise error_for_status(exc.status_code, f"malformed multipart body: {exc.detail}") from None
    try:
        return {name: Upload(value.filename or "", await value.read()) if isinstance(value, UploadFile) else value
                for name, value in form.multi_items()}
    finally:
        await form.close()


async def read_photo(request: Request, limits: Limits) -> tuple[Image.Image, str | None]:
    """An image from a multipart upload (`file`) or base64 (`image_base64`, JSON or form), plus `prompt`: decoded
    and checked here, so that a bad upload fails fast at the edge (`decode_photo`)."""
    content_type = request.headers.get("content-type", "")
    limit = limits.max_upload_bytes + FRAMING_BYTES
    if content_type.startswith(MULTIPART):
        fields = await read_form(request, limit)
    elif content_type.startswith("application/json"):
        try:
            fields = json.loads(await capped(request, limit).body() or b"null")
        except ValueError as exc:  # not JSON, or not UTF-8
            raise Malformed(f"malformed body: {exc}") from None
        if not isinstance(fields, dict):
            raise Malformed('JSON body must be an object: {"image_base64": "...", "prompt"?: "..."}')
    else:
        raise UnsupportedMedia("send multipart/form-data with a `file` part, or JSON with `image_base64`")
    upload, encoded, prompt = fields.get("file"), fields.get("image_base64"), fields.get("prompt")
    if isinstance(upload, Upload):
        image = decode_photo(upload.data, limits)
    elif isinstance(encoded, str):
        image = decode_photo(encoded, limits)
    else:
        raise Malformed("send the image as a multipart `file` part or as `image_base64`")
    return image, (str(prompt) if prompt else None)


def decode_photo(data: bytes | str, limits: Limits) -> Image.Image:
    """Image bytes (or base64) checked against the limits, as a copy no larger than MAX_FORWARD_SIDE: what travels on
    to the captioner (BLIP looks at 384x384 anyway)."""
    image = load_image(data, limits) if isinstance(data, bytes) else decode_base64_image(data, limits)
    image.thumbnail((MAX_FORWARD_SIDE, MAX_FORWARD_SIDE))
    return image
