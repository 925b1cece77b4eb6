"""Request bodies under a size limit, and multipart forms parsed by Starlette's own parser.

The limit is checked before the body is read: from the declared content-length at once, and for a body sent
without one (chunked) as soon as what arrived passes it. Forms are parsed by `Request.form` with limits on
files, fields and field size, so no upload is held in memory whole before it is known to fit.
"""

from __future__ import annotations

from typing import NamedTuple

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from adgenesis.errors import TooLarge
from deployments.http_errors import error_for_status

MULTIPART = "multipart/form-data"
FRAMING_BYTES = 64 * 1024  # boundaries and part headers around an upload of the limit's size


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
