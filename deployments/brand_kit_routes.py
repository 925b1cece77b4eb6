"""Brand kits over HTTP: the kits of a workspace, their versions, logo and font uploads, and the admin's routes for
workspaces and their API keys; and `resolve_kit`, which turns the `brand_kit` a design request names into the
`BrandKit` the layout engine consumes.

A mixin of the ingress, with its route table (ROUTES, merged into the ingress's). Every ingress replica opens the
store itself (adgenesis/store/: one database, shared; the uploads folder on a volume every replica sees) rather than
asking one replica: kits are read by every design that names one, and the database orders the writes. Its calls
block (the database, decoding an upload), so each runs in a worker thread. docs/brand-kits.md.

Keys: every route needs one, checked before the body is read. A workspace's key (POST /v1/keys) reads and writes its
own workspace's kits; the admin key (`lifecycle.api_key_env`, the lifecycle's write key) every workspace's, and it
alone manages workspaces and keys. No key: 401; a key that is not one, or was revoked: 403.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
from fastapi import Request
from fastapi.responses import Response

from adgenesis import protocol
from adgenesis.brand import BrandKit, FontRole
from adgenesis.errors import (
    Conflict,
    DependencyFailed,
    Failed,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMedia,
)
from adgenesis.lifecycle.auth import ApiKeyAuth, presented_key
from adgenesis.settings import StoreSettings
from adgenesis.store.keys import ADMIN, Caller
from adgenesis.store.store import Store
from deployments.http_errors import answers
from deployments.uploads import FRAMING_BYTES, MULTIPART, Upload, body_schema, read_form

logger = logging.getLogger("ray.serve")
T = TypeVar("T")

FONT_ROLES: tuple[FontRole, ...] = ("headline", "body")
# The uploaded files never change under their content-hash names: a browser may keep them.
FILE_HEADERS = {"Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


class BrandKitRoutes:
    """Mixed into AdGenesisIngress."""

    _kit_settings: StoreSettings | None
    _kit_store: Store | None
    _admin: ApiKeyAuth

    def _init_brand_kits(self, settings: dict | None, admin_key_env: str) -> None:
        """Opens the store now (the database made and migrated as the replica starts); a database that is not there
        yet does not stop the replica: the kit routes answer 503 and try again with each request."""
        self._kit_settings = StoreSettings.model_validate(settings) if settings is not None else None
        self._kit_store = None
        self._kit_store_lock = threading.Lock()
        self._admin = ApiKeyAuth(admin_key_env, read_requires_key=True)
        if self._kit_settings is not None:
            try:
                self._store()
            except Failed as exc:
                logger.warning("the brand-kit store did not open (%s); trying again with the next request", exc)

    def _store(self) -> Store:
        if self._kit_store is None:
            if self._kit_settings is None:
                raise Unavailable("brand kits are not configured on this server (the profile's `store` section)")
            with self._kit_store_lock:  # one open (and migration) per replica, whichever request comes first
                if self._kit_store is None:
                    self._kit_store = Store.open(self._kit_settings)
        return self._kit_store

    async def _kits(self, call: Callable[[Store], T]) -> T:
        """`call(store)` in a worker thread (it blocks: the database, an upload's decoding)."""
        return await anyio.to_thread.run_sync(lambda: call(self._store()))

    async def _caller(self, headers: Mapping[str, str]) -> Caller:
        key = presented_key(headers)
        if key is None:
            raise Unauthenticated("brand kits need an API key: send 'Authorization: Bearer <key>' or "
                                  "'X-API-Key: <key>'", headers={"WWW-Authenticate": "Bearer"})
        if self._admin.accepts(key):
            return ADMIN
        return await self._kits(lambda store: store.caller(key))

    async def resolve_kit(self, headers: Mapping[str, str], id_or_name: str, version: int | None = None) -> BrandKit:
        """The kit a request names (`brand_kit`), as the caller's key may use it: its latest version, or `version`
        (the one a design was made with, even once the kit is deleted). No key: 401; another workspace's kit, or none:
        404; a kit's workspace key or the admin key may use it."""
        caller = await self._caller(headers)
        return await self._kits(lambda store: store.resolve(caller, id_or_name, version))

    async def _uploaded(self, request: Request, caller: Caller, kit_id: str, limit: int,
                        fields: int = 1) -> dict[str, str | Upload]:
        """The multipart form of an upload route, read once the caller may change the kit (a stranger's upload is
        never read) and only up to `limit` bytes of file."""
        await self._kits(lambda store: store.writable(caller, kit_id))
        if not request.headers.get("content-type", "").startswith(MULTIPART):
            raise UnsupportedMedia("send multipart/form-data with a `file` part")
        form = await read_form(request, limit + FRAMING_BYTES, max_fields=fields)
        if not isinstance(form.get("file"), Upload):
            raise Malformed("send the file as a multipart `file` part")
        return form

    def _settings(self) -> StoreSettings:
        if self._kit_settings is None:
            raise Unavailable("brand kits are not configured on this server (the profile's `store` section)")
        return self._kit_settings

    # ---- kits --------------------------------------------------------------------------------------------------

    async def kits_create(self, body: protocol.BrandKitCreate, request: Request) -> protocol.BrandKitInfo:
        caller = await self._caller(request.headers)
        return await self._kits(lambda store: store.create_kit(caller, body))

    async def kits_list(self, request: Request, workspace: str | None = None) -> protocol.BrandKitList:
        caller = await self._caller(request.headers)
        return await self._kits(lambda store: store.list_kits(caller, workspace))

    async def kits_get(self, kit_id: str, request: Request) -> protocol.BrandKitInfo:
        caller = await self._caller(request.headers)
        return await self._kits(lambda store: store.kit(caller, kit_id))

    async def kits_edit(self, kit_id: str, body: protocol.BrandKitPatch, request: Request) -> protocol.BrandKitInfo:
        caller = await self._caller(request.headers)
        return await self._kits(lambda store: store.edit_kit(caller, kit_id, body))

    async def kits_delete(self, kit_id: str, request: Request) -> protocol.BrandKitInfo:
        caller = await self._caller(request.headers)
        return await self._kits(lambda store: store.delete_kit(caller, kit_id))

    async def kits_versions(self, kit_id: str, request: Request) -> protocol.BrandKitVersionList:
        caller = await self._caller(request.headers)
        return await self._kits(lambda store: store.versions(caller, kit_id))

    async def kits_version(self, kit_id: str, number: int, request: Request) -> protocol.BrandKitVersion:
        if number < 1:
            raise Invalid("versions are numbered from 1")
        caller = await self._caller(request.headers)
        return await self._kits(lambda store: store.version(caller, kit_id, number))

    async def kits_logo(self, kit_id: str, request: Request) -> protocol.BrandKitInfo:
        # Not FastAPI's UploadFile parameter: it would read and spool the whole upload before the key is checked.
        caller = await self._caller(request.headers)
        form = await self._uploaded(request, caller, kit_id, self._settings().max_logo_bytes)
        return await self._kits(lambda store: store.upload_logo(caller, kit_id, form["file"].data))

    async def kits_font(self, kit_id: str, request: Request) -> protocol.BrandKitInfo:
        caller = await self._caller(request.headers)
        form = await self._uploaded(request, caller, kit_id, self._settings().max_font_bytes, fields=2)
        role = form.get("role")
        if role not in FONT_ROLES:
            raise Invalid(f"say which font the upload is: a `role` part of {' or '.join(FONT_ROLES)}")
        return await self._kits(lambda store: store.upload_font(caller, kit_id, form["file"].data, role))

    async def kits_file(self, kit_id: str, name: str, request: Request) -> Response:
        caller = await self._caller(request.headers)
        data, media_type = await self._kits(lambda store: store.file(caller, kit_id, name))
        return Response(content=data, media_type=media_type, headers={**FILE_HEADERS, "ETag": f'"{name}"'})

    # ---- workspaces and keys: the admin key only -----------------------------------------------------------------

    async def keys_create(self, body: protocol.ApiKeyCreate, request: Request) -> protocol.ApiKeyCreated:
        self._admin.check(request.headers, write=True)
        return await self._kits(lambda store: store.create_key(body))

    async def keys_list(self, request: Request, workspace: str | None = None) -> protocol.ApiKeyList:
        self._admin.check(request.headers, write=True)
        return await self._kits(lambda store: store.list_keys(workspace))

    async def keys_revoke(self, key_id: str, request: Request) -> protocol.ApiKeyInfo:
        self._admin.check(request.headers, write=True)
        return await self._kits(lambda store: store.revoke_key(key_id))

    async def workspaces_list(self, request: Request) -> protocol.WorkspaceList:
        self._admin.check(request.headers, write=True)
        return await self._kits(lambda store: store.list_workspaces())


def route(method: str, path: str, response_model, *kinds, **options) -> Callable[[Any], Any]:
    """An entry of the route table: `app.<method>(path, ...)` with every status the route may answer."""
    tag = "workspaces" if path.startswith(("/v1/keys", "/v1/workspaces")) else "brand kits"
    return lambda app: getattr(app, method)(path, response_model=response_model, tags=[tag],
                                            responses={**options.pop("responses", {}), **answers(*kinds)}, **options)


# Every route: no key (401), a key that is not one (403), the database not reachable or not configured (503) or
# failing (502). A kit named by id or name: none the key may see (404), a name in several workspaces (422, admin).
KEYED = (Unauthenticated, Forbidden, Unavailable, DependencyFailed)
NAMED = (*KEYED, NotFound, Invalid)
WRITE = (*NAMED, Malformed, Conflict)
UPLOAD = (*WRITE, TooLarge, UnsupportedMedia)


# A design, a render or a generation that names a `brand_kit` (`resolve_kit`): no key, a key that is not one, no
# such kit for the key.
KIT_USE = answers(Unauthenticated, Forbidden, NotFound)


ROUTES = {
    "kits_create": route("post", "/v1/brand-kits", protocol.BrandKitInfo, *WRITE, status_code=201,
                         summary="Create a brand kit (its version 1)"),
    "kits_list": route("get", "/v1/brand-kits", protocol.BrandKitList, *NAMED,
                       summary="The workspace's kits (the admin key: every workspace's, or ?workspace=)"),
    "kits_get": route("get", "/v1/brand-kits/{kit_id}", protocol.BrandKitInfo, *NAMED,
                      summary="A kit's latest version (by id or name)"),
    "kits_edit": route("patch", "/v1/brand-kits/{kit_id}", protocol.BrandKitInfo, *WRITE,
                       summary="Edit a kit: a new version"),
    "kits_delete": route("delete", "/v1/brand-kits/{kit_id}", protocol.BrandKitInfo, *NAMED,
                         summary="Delete a kit (its versions still render the designs made with them)"),
    "kits_versions": route("get", "/v1/brand-kits/{kit_id}/versions", protocol.BrandKitVersionList, *NAMED),
    "kits_version": route("get", "/v1/brand-kits/{kit_id}/versions/{number}", protocol.BrandKitVersion, *NAMED,
                          Malformed),
    "kits_logo": route("post", "/v1/brand-kits/{kit_id}/logo", protocol.BrandKitInfo, *UPLOAD,
                       summary="Upload a logo (PNG, WebP or JPEG): a new version",
                       openapi_extra=body_schema()),
    "kits_font": route("post", "/v1/brand-kits/{kit_id}/fonts", protocol.BrandKitInfo, *UPLOAD,
                       summary="Upload a TTF or OTF as the headline or body font: a new version",
                       openapi_extra=body_schema(("role", {"type": "string", "enum": list(FONT_ROLES)}))),
    "kits_file": route("get", "/v1/brand-kits/{kit_id}/files/{name}", None, *NAMED, response_class=Response,
                       responses={200: {"content": {"image/png": {}, "font/ttf": {}, "font/otf": {}}}},
                       summary="An uploaded logo or font of the kit"),
    "keys_create": route("post", "/v1/keys", protocol.ApiKeyCreated, *KEYED, Malformed, Conflict, status_code=201,
                         summary="A new API key for a workspace (made with its first key); the admin key"),
    "keys_list": route("get", "/v1/keys", protocol.ApiKeyList, *KEYED, NotFound),
    "keys_revoke": route("post", "/v1/keys/{key_id}/revoke", protocol.ApiKeyInfo, *KEYED, NotFound, Conflict),
    "workspaces_list": route("get", "/v1/workspaces", protocol.WorkspaceList, *KEYED),
}
