"""The edge: what a domain error (adgenesis/errors.py) is on the wire. The one place that gives an error its HTTP
status; every handler of the app's errors is here, and the batch jobs record a failed row with `status_of`.

Body of every error: `{"detail": <message>, "request_id": ...}` (FastAPI's shape), with the error's headers
(Retry-After, WWW-Authenticate); a request FastAPI cannot validate gets Ray's OpenAI-style 400 body instead
(`validation_error`)."""

from __future__ import annotations

import json
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from adgenesis.errors import (
    Conflict,
    DependencyFailed,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    RequestError,
    TimedOut,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMedia,
)
from adgenesis.protocol import ErrorBody, RequestFormatErrorBody
from deployments import telemetry

STATUS: dict[type[RequestError], HTTPStatus] = {
    Malformed: HTTPStatus.BAD_REQUEST,
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    TooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedMedia: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    Invalid: HTTPStatus.UNPROCESSABLE_ENTITY,
    DependencyFailed: HTTPStatus.BAD_GATEWAY,
    Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    TimedOut: HTTPStatus.GATEWAY_TIMEOUT,
}
KIND = {status: kind for kind, status in STATUS.items()}
def answers(*kinds: type[RequestError]) -> dict[int | str, dict]:
    """A route's `responses=` for the kinds it may answer: each status with the kind's meaning and the error body's
    model, so that a client generated from the OpenAPI schema handles them. A 400 may also be the body of a request
    that does not match the schema (`validation_error`)."""
    declared: dict[int | str, dict] = {}
    for kind in kinds:
        meaning = (kind.__doc__ or kind.__name__).strip().splitlines()[0]
        declared[STATUS[kind].value] = {"model": ErrorBody, "description": meaning}
    if Malformed in kinds:
        declared[STATUS[Malformed].value]["model"] = ErrorBody | RequestFormatErrorBody
    return declared


# Part of every inference route's contract (docs/reliability.md): shed load and a lost replica are 503s.
BUSY = {STATUS[Unavailable].value: {
    "model": ErrorBody,
    "description": "At capacity, or a model replica was lost: retry after the Retry-After header's seconds"}}
# A route with a prompt: over the profile's limit, or busy. (Each route adds its own kinds; a request that fails
# validation is a 400 on every route with inputs: `validation_as_400`.)
PROMPTED = {**answers(TooLarge), **BUSY}

COMPONENTS = "#/components/schemas/"
VALIDATION_MEANING = "The request does not match the schema, or its body cannot be parsed"


def _component(schema: dict, model: type[BaseModel]) -> dict:
    """A $ref to `model` among the schema's components, added there (with the models it holds) if missing."""
    body = model.model_json_schema(ref_template=COMPONENTS + "{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, held in {**body.pop("$defs", {}), model.__name__: body}.items():
        components.setdefault(name, held)
    return {"$ref": COMPONENTS + model.__name__}


def validation_as_400(schema: dict) -> dict:
    """The OpenAPI schema FastAPI generated, with the status this app gives a request that fails validation: FastAPI
    declares a 422 with its own body on each route that has inputs, `validation_error` answers a 400 (Ray's
    OpenAI-style body; Starlette's `{"detail"}` when the body is not JSON). A 422 a route declares itself (`answers`)
    is an `Invalid` and stays; a 400 it declares (`answers(Malformed)`) is this one."""
    body = {"anyOf": [_component(schema, ErrorBody), _component(schema, RequestFormatErrorBody)]}
    for operation in (op for item in schema["paths"].values() for op in item.values()):
        responses = operation["responses"]
        if "HTTPValidationError" in json.dumps(responses.get("422", {})):
            del responses["422"]
        if operation.get("parameters") or operation.get("requestBody"):
            responses.setdefault("400", {"description": VALIDATION_MEANING,
                                         "content": {"application/json": {"schema": body}}})
    for generated in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(generated, None)
    return schema


def declare_validation_as_400(app: FastAPI) -> None:
    """`app`'s /openapi.json as `validation_as_400` makes it (generated once, on the first request for it)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = validation_as_400(generate())
        return app.openapi_schema
    app.openapi = openapi


def status_of(error: BaseException) -> int:
    """The HTTP status of a domain error: its kind's (a replica's error arrives as a subclass of its kind); 500 for
    anything else."""
    kind = next((k for k in type(error).__mro__ if k in STATUS), None)
    return int(STATUS[kind] if kind is not None else HTTPStatus.INTERNAL_SERVER_ERROR)


def error_for_status(status: int, message: str) -> RequestError:
    """The domain error for a status another HTTP server answered (the LLM server's ErrorResponse, Starlette's
    form parser): its kind when it is a client's mistake we know, else the other server failed."""
    kind = KIND.get(status) if 400 <= status < 500 else None
    return (kind or (Invalid if 400 <= status < 500 else DependencyFailed))(message)


def readiness(ready: bool, body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=HTTPStatus.OK if ready else STATUS[Unavailable])


async def request_error(request: Request, exc: RequestError) -> JSONResponse:
    """A domain error raised here or in a deployment: its kind's status, its message and headers."""
    return JSONResponse({"detail": exc.message, "request_id": telemetry.request_id(request)},
                        status_code=status_of(exc), headers=exc.headers or None)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's and FastAPI's own (no such route, method not allowed): FastAPI's `{"detail": ...}`, plus the
    request id."""
    return JSONResponse({"detail": exc.detail, "request_id": telemetry.request_id(request)},
                        status_code=exc.status_code, headers=exc.headers)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """Ray's handler, minus its 500s: it echoed the invalid input, which may be bytes (a text/plain body)
    or a lone surrogate, neither of which JSONResponse can encode. ASCII JSON with escapes can."""
    first = exc.errors()[0] if exc.errors() else {"msg": "Invalid request"}
    param = first.get("input")
    if isinstance(param, bytes):
        param = param.decode("utf-8", "replace")
    body = {"error": {"message": f"Invalid request format: {first.get('msg', 'invalid')} at {first.get('loc', ('body',))}",
                      "type": first.get("type", "invalid_request_error"), "param": param, "code": "invalid_parameter"},
            "request_id": telemetry.request_id(request)}
    return Response(json.dumps(body, default=str), status_code=STATUS[Malformed], media_type="application/json")


HANDLERS = {RequestValidationError: validation_error, StarletteHTTPException: http_error, RequestError: request_error}
