"""The store: workspaces, their API keys, brand kits and their versions, uploaded logos and fonts.

    store = Store.open(profile.store)              # the schema migrated to head, by one replica at a time
    caller = store.caller(token)                   # a workspace key -> its workspace (the admin key: keys.ADMIN)
    info = store.create_kit(caller, BrandKitCreate(...))
    kit = store.resolve(caller, "Acme", version=None)   # a BrandKit, as the layout engine consumes it

Who may do what, applied here whatever called (the routes, a test, a script):
- a workspace key reads and changes its own workspace's kits only; another workspace's kit is a 404 to read or to
  use, a 403 to change (by its id: names are looked up in the caller's own workspace);
- the admin key reads and changes every workspace's kits, and says which workspace a new kit is for.

Every edit is a new version row; versions are never changed. Deleting a kit marks it deleted: it is gone from
listings, names and new designs, and its versions and files still serve the designs made with it. A version is
saved only once every field passed its checks (adgenesis/brand.py, adgenesis/store/checks.py); an upload is checked
whole before anything is written (adgenesis/store/fonts.py, logos.py), then written under its content hash (the
same bytes are the same file, so a file written for a version the database then refused is harmless and reused).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adgenesis.brand import FILE_NAME, KIT_ID, BrandKit, FontRole, KitFont, is_kit_ref, kit_file, uploads_dir
from adgenesis.errors import Conflict, DependencyFailed, Forbidden, Invalid, NotFound
from adgenesis.files import write_atomic
from adgenesis.paths import is_safe_name
from adgenesis.protocol import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyList,
    BrandKitCreate,
    BrandKitInfo,
    BrandKitList,
    BrandKitPatch,
    BrandKitVersion,
    BrandKitVersionList,
    WorkspaceInfo,
    WorkspaceList,
)
from adgenesis.service_errors import database_call
from adgenesis.settings import StoreSettings
from adgenesis.store import checks
from adgenesis.store.database import open_migrated
from adgenesis.store.fonts import CheckedFont, check_font
from adgenesis.store.keys import Caller, new_token, same_hash, shown_part, token_hash
from adgenesis.store.logos import CheckedLogo, check_logo
from adgenesis.store.models import ApiKey, KitRow, KitVersionRow, UploadedFile, Workspace, now

DATABASE = "the brand-kit database"
ID_HEX = 12  # random bytes of an id: "kit_" + 24 hex digits (adgenesis/brand.py KIT_ID)
KIT_FIELDS = ("name", "palette", "headline_font", "body_font", "logo", "voice_words", "banned_words", "disclaimer")


def _new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(ID_HEX)}"


def _seconds(when: dt.datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


# A method's database errors as domain errors (adgenesis/service_errors.py): the context manager decorates too.
_database = database_call(DATABASE)


class Store:
    def __init__(self, settings: StoreSettings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: StoreSettings, environ: Mapping[str, str] | None = None) -> "Store":
        """The profile's database (made, on SQLite, if it is not there), migrated to head, and the uploads folder."""
        with database_call(DATABASE):
            engine = open_migrated(settings, environ)
        uploads_dir(settings).mkdir(parents=True, exist_ok=True)
        return cls(settings, engine)

    def close(self) -> None:
        self.engine.dispose()

    # ---- workspaces and keys (the admin's; the routes check the admin key) ----------------------------------------

    @_database
    def create_key(self, request: ApiKeyCreate) -> ApiKeyCreated:
        """A new key for the workspace, made if it does not exist; the token is in the answer and nowhere else."""
        token = new_token()
        try:
            return self._add_key(request, token)
        except IntegrityError:
            pass  # another request made the workspace at the same moment: this one finds it now
        try:
            return self._add_key(request, token)
        except IntegrityError:
            raise Conflict(f"workspace {request.workspace!r} was being made at the same time; retry") from None

    def _add_key(self, request: ApiKeyCreate, token: str) -> ApiKeyCreated:
        with self._sessions.begin() as s:
            workspace = s.scalar(select(Workspace).where(Workspace.name == request.workspace))
            created = workspace is None
            if created:
                workspace = Workspace(id=_new_id("ws"), name=request.workspace, created_at=now())
                s.add(workspace)
                s.flush()  # the workspace's row before its key's (no relationship() orders them)
            key = ApiKey(id=_new_id("key"), workspace_id=workspace.id, label=request.label, shown=shown_part(token),
                         sha256=token_hash(token), created_at=now())
            s.add(key)
        return ApiKeyCreated(key=_key_info(key, workspace.name), token=token, workspace_created=created)

    @_database
    def list_keys(self, workspace: str | None = None) -> ApiKeyList:
        with self._sessions() as s:
            query = select(ApiKey, Workspace.name).join(Workspace).order_by(ApiKey.created_at)
            if workspace is not None:
                query = query.where(Workspace.id == self._workspace(s, workspace).id)
            return ApiKeyList(keys=[_key_info(key, name) for key, name in s.execute(query)])

    @_database
    def revoke_key(self, key_id: str) -> ApiKeyInfo:
        with self._sessions.begin() as s:
            key = s.get(ApiKey, key_id) if is_safe_name(key_id) else None
            if key is None:
                raise NotFound(f"no API key {key_id!r}")
            if key.revoked_at is not None:
                raise Conflict(f"API key {key_id!r} was already revoked")
            key.revoked_at = now()
            return _key_info(key, s.get(Workspace, key.workspace_id).name)

    @_database
    def list_workspaces(self) -> WorkspaceList:
        with self._sessions() as s:
            keys = dict(s.execute(select(ApiKey.workspace_id, func.count()).where(ApiKey.revoked_at.is_(None))
                                  .group_by(ApiKey.workspace_id)).all())
            kits = dict(s.execute(select(KitRow.workspace_id, func.count()).where(KitRow.deleted_at.is_(None))
                                  .group_by(KitRow.workspace_id)).all())
            return WorkspaceList(workspaces=[
                WorkspaceInfo(id=w.id, name=w.name, created_at=_seconds(w.created_at), keys=keys.get(w.id, 0),
                              kits=kits.get(w.id, 0))
                for w in s.scalars(select(Workspace).order_by(Workspace.name))])

    @_database
    def caller(self, token: str) -> Caller:
        """The workspace a key belongs to; Forbidden for a key that is not one, or was revoked."""
        with self._sessions() as s:
            found = s.execute(select(ApiKey, Workspace.name).join(Workspace)
                              .where(ApiKey.shown == shown_part(token))).all()
        key, workspace = next(((k, w) for k, w in found if same_hash(token, k.sha256)), (None, None))
        if key is None:
            raise Forbidden("the API key is not valid")
        if key.revoked_at is not None:
            raise Forbidden("this API key was revoked")
        when = now()
        if key.last_used_at is None or (when - key.last_used_at).total_seconds() >= self.settings.key_touch_interval_s:
            with self._sessions.begin() as s:
                s.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=when))
        return Caller(workspace_id=key.workspace_id, workspace=workspace)

    # ---- kits -----------------------------------------------------------------------------------------------------

    @_database
    def create_kit(self, caller: Caller, request: BrandKitCreate) -> BrandKitInfo:
        try:
            with self._sessions.begin() as s:
                workspace = self._workspace_to_write(s, caller, request.workspace)
                fields = self._checked(s, workspace.id,
                                       {"logo": None} | request.model_dump(mode="json", include=set(KIT_FIELDS)))
                self._name_is_free(s, workspace.id, fields["name"])
                when = now()
                kit = KitRow(id=_new_id("kit"), workspace_id=workspace.id, name=fields["name"], latest_version=1,
                             created_at=when, updated_at=when)
                s.add(kit)
                s.flush()  # the kit's row before its version's (no relationship() orders them)
                version = KitVersionRow(kit_id=kit.id, version=1, created_at=when, **fields)
                s.add(version)
                return _info(kit, version, workspace.name)
        except IntegrityError:  # the same name taken by another request at the same moment
            raise Conflict(f"a brand kit named {request.name!r} exists in this workspace") from None

    @_database
    def writable(self, caller: Caller, ref: str) -> str:
        """The id of the kit `ref` names, if `caller` may change it (404 or 403 otherwise): what an upload route asks
        before it reads the upload."""
        return self._kit_id(caller, ref, write=True)

    @_database
    def edit_kit(self, caller: Caller, ref: str, patch: BrandKitPatch) -> BrandKitInfo:
        kit_id = self._kit_id(caller, ref, write=True)
        return self._new_version(kit_id, ref, patch.model_dump(mode="json", exclude_unset=True))

    @_database
    def upload_logo(self, caller: Caller, ref: str, data: bytes) -> BrandKitInfo:
        """A new version with this logo (checked, trimmed, kept as PNG)."""
        kit_id = self._kit_id(caller, ref, write=True)  # a stranger's upload is refused before it is decoded
        logo = check_logo(data, self.settings)
        return self._new_version(kit_id, ref, {"logo": logo.name}, upload=logo)

    @_database
    def upload_font(self, caller: Caller, ref: str, data: bytes, role: FontRole) -> BrandKitInfo:
        """A new version whose headline or body font is this one (checked with fontTools)."""
        kit_id = self._kit_id(caller, ref, write=True)
        font = check_font(data, self.settings)
        return self._new_version(kit_id, ref, {f"{role}_font": {"family": font.family, "file": font.name}}, upload=font)

    @_database
    def delete_kit(self, caller: Caller, ref: str) -> BrandKitInfo:
        kit_id = self._kit_id(caller, ref, write=True)
        with self._sessions.begin() as s:
            when = now()
            deleted = s.execute(update(KitRow).where(KitRow.id == kit_id, KitRow.deleted_at.is_(None))
                                .values(deleted_at=when)).rowcount
            if not deleted:
                raise NotFound(f"no brand kit {ref!r}")
            kit = s.get(KitRow, kit_id)
            return _info(kit, s.get(KitVersionRow, (kit_id, kit.latest_version)), self._workspace_name(s, kit))

    @_database
    def list_kits(self, caller: Caller, workspace: str | None = None) -> BrandKitList:
        """The caller's workspace's kits (the admin's: every workspace's, or `workspace`'s), not deleted, by name."""
        with self._sessions() as s:
            query = select(KitRow, KitVersionRow).join(KitVersionRow, (KitVersionRow.kit_id == KitRow.id) & (
                KitVersionRow.version == KitRow.latest_version)).where(KitRow.deleted_at.is_(None))
            if workspace is not None:
                found = self._workspace(s, workspace)
                if not caller.admin and found.id != caller.workspace_id:
                    raise NotFound(f"no workspace {workspace!r}")
                query = query.where(KitRow.workspace_id == found.id)
            elif not caller.admin:
                query = query.where(KitRow.workspace_id == caller.workspace_id)
            rows = s.execute(query.order_by(KitRow.name, KitRow.id)).all()
            return BrandKitList(kits=[_info(kit, version, self._workspace_name(s, kit)) for kit, version in rows])

    @_database
    def kit(self, caller: Caller, ref: str) -> BrandKitInfo:
        with self._sessions() as s:
            kit = self._kit_row(s, caller, ref, write=False, live=True)
            return _info(kit, s.get(KitVersionRow, (kit.id, kit.latest_version)), self._workspace_name(s, kit))

    @_database
    def versions(self, caller: Caller, ref: str) -> BrandKitVersionList:
        """Every version, oldest first; a deleted kit's too (by its id), for the designs made with it."""
        with self._sessions() as s:
            kit = self._kit_row(s, caller, ref, write=False, live=False)
            workspace = self._workspace_name(s, kit)
            rows = s.scalars(select(KitVersionRow).where(KitVersionRow.kit_id == kit.id)
                             .order_by(KitVersionRow.version))
            return BrandKitVersionList(id=kit.id, versions=[_version(row, workspace) for row in rows])

    @_database
    def version(self, caller: Caller, ref: str, number: int) -> BrandKitVersion:
        with self._sessions() as s:
            kit = self._kit_row(s, caller, ref, write=False, live=False)
            row = s.get(KitVersionRow, (kit.id, number))
            if row is None:
                raise NotFound(f"brand kit {ref!r} has no version {number}; it has 1-{kit.latest_version}")
            return _version(row, self._workspace_name(s, kit))

    def resolve(self, caller: Caller, ref: str, version: int | None = None) -> BrandKit:
        """The kit a request names, as the engine consumes it: its latest version (a kit not deleted), or `version`
        (a design made with it, even after the kit was deleted)."""
        if version is None:
            return self.kit(caller, ref).kit
        return self.version(caller, ref, version).kit

    @_database
    def file(self, caller: Caller, ref: str, name: str) -> tuple[bytes, str]:
        """An uploaded file of the kit's workspace, and its media type (the studio shows a kit's logo and fonts)."""
        with self._sessions() as s:
            kit = self._kit_row(s, caller, ref, write=False, live=False)
            row = s.get(UploadedFile, (kit.workspace_id, name)) if FILE_NAME.fullmatch(name) else None
        if row is None:
            raise NotFound(f"brand kit {ref!r} has no file {name!r}")
        try:
            return kit_file(self.settings, name).read_bytes(), row.media_type
        except FileNotFoundError:
            raise DependencyFailed(f"{name} is in the database but not in the uploads folder "
                                   f"({uploads_dir(self.settings)}): is it the one every replica sees?") from None

    # ---- helpers --------------------------------------------------------------------------------------------------

    def _new_version(self, kit_id: str, ref: str, changes: dict[str, Any],
                     upload: CheckedFont | CheckedLogo | None = None) -> BrandKitInfo:
        """The kit's next version: the latest one with `changes`, checked (the caller may write `kit_id`)."""
        if upload is not None:  # before the version that names it; same bytes, same file (the module's docstring)
            path = kit_file(self.settings, upload.name)
            if not path.is_file():
                write_atomic(path, upload.data)
        try:
            with self._sessions.begin() as s:
                # The kit's row first: on PostgreSQL its lock, on SQLite the database's write lock, so that two edits
                # at once number their versions one after the other, each from the version before it.
                number = s.execute(update(KitRow).where(KitRow.id == kit_id, KitRow.deleted_at.is_(None))
                                   .values(latest_version=KitRow.latest_version + 1, updated_at=now())
                                   .returning(KitRow.latest_version)).scalar_one_or_none()
                if number is None:
                    raise NotFound(f"no brand kit {ref!r}")
                kit = s.get(KitRow, kit_id)
                if upload is not None and s.get(UploadedFile, (kit.workspace_id, upload.name)) is None:
                    kind = "font" if isinstance(upload, CheckedFont) else "logo"
                    s.add(UploadedFile(workspace_id=kit.workspace_id, name=upload.name, media_type=upload.media_type,
                                       kind=kind, size=len(upload.data), family=getattr(upload, "family", None),
                                       created_at=now()))
                    s.flush()
                current = s.get(KitVersionRow, (kit_id, number - 1))
                fields = self._checked(s, kit.workspace_id, {f: getattr(current, f) for f in KIT_FIELDS} | changes)
                if fields["name"] != kit.name:
                    self._name_is_free(s, kit.workspace_id, fields["name"])
                    kit.name = fields["name"]
                version = KitVersionRow(kit_id=kit_id, version=number, created_at=kit.updated_at, **fields)
                s.add(version)
                return _info(kit, version, self._workspace_name(s, kit))
        except IntegrityError:
            raise Conflict(f"brand kit {ref!r}: its name is taken, or it was edited at the same time; retry") from None

    def _checked(self, s: Session, workspace_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """The fields of a version to save, once they pass the checks that need the profile or the workspace's
        uploads: a legible palette, fonts bundled or uploaded, a logo uploaded, no word both voiced and banned."""
        kit = BrandKit(id="", workspace="", version=1, **fields)  # the types, as the engine will read them
        checks.check_palette_contrast(kit.palette, self.settings)
        checks.check_words(kit.voice_words, kit.banned_words)
        fonts = {slot: self._font(s, workspace_id, getattr(kit, slot), slot) for slot in ("headline_font", "body_font")}
        if kit.logo is not None and self._upload(s, workspace_id, kit.logo, "logo") is None:
            raise Invalid(f"logo: {kit.logo!r} is not a logo this workspace uploaded (POST /v1/brand-kits/{{id}}/logo)")
        return kit.model_copy(update=fonts).model_dump(mode="json", include=set(KIT_FIELDS))

    def _font(self, s: Session, workspace_id: str, font: KitFont, slot: str) -> KitFont:
        if font.file is None:
            return checks.check_bundled_font(font, slot)
        uploaded = self._upload(s, workspace_id, font.file, "font")
        if uploaded is None:
            raise Invalid(f"{slot}: {font.file!r} is not a font this workspace uploaded "
                          "(POST /v1/brand-kits/{id}/fonts)")
        return KitFont(family=uploaded.family, file=font.file)  # the family its name table gives

    @staticmethod
    def _upload(s: Session, workspace_id: str, name: str, kind: str) -> UploadedFile | None:
        row = s.get(UploadedFile, (workspace_id, name)) if FILE_NAME.fullmatch(name) else None
        return row if row is not None and row.kind == kind else None

    @staticmethod
    def _name_is_free(s: Session, workspace_id: str, name: str) -> None:
        taken = s.scalar(select(KitRow.id).where(KitRow.workspace_id == workspace_id, KitRow.name == name,
                                                 KitRow.deleted_at.is_(None)))
        if taken is not None:
            raise Conflict(f"a brand kit named {name!r} exists in this workspace ({taken})")

    def _kit_id(self, caller: Caller, ref: str, *, write: bool) -> str:
        with self._sessions() as s:
            return self._kit_row(s, caller, ref, write=write, live=True).id

    @staticmethod
    def _kit_row(s: Session, caller: Caller, ref: str, *, write: bool, live: bool) -> KitRow:
        """The kit `ref` names (its id, or its name among live kits) as `caller` may see it (the module's rules)."""
        if not is_kit_ref(ref):  # nothing such a string could name; never sent to the database (a NUL is a 502 there)
            kit = None
        elif KIT_ID.fullmatch(ref):
            kit = s.get(KitRow, ref)
            kit = None if kit is not None and live and kit.deleted_at is not None else kit
        else:
            query = select(KitRow).where(KitRow.name == ref, KitRow.deleted_at.is_(None))
            if not caller.admin:
                query = query.where(KitRow.workspace_id == caller.workspace_id)
            named = s.scalars(query).all()
            if len(named) > 1:
                raise Invalid(f"kits named {ref!r} are in several workspaces: name one by id ({[k.id for k in named]})")
            kit = named[0] if named else None
        if kit is not None and not caller.admin and kit.workspace_id != caller.workspace_id:
            if write:
                raise Forbidden(f"this key may not change brand kit {ref!r}: it is another workspace's")
            kit = None
        if kit is None:
            raise NotFound(f"no brand kit {ref!r}")
        return kit

    def _workspace_to_write(self, s: Session, caller: Caller, named: str | None) -> Workspace:
        if caller.admin:
            if named is None:
                raise Invalid("the admin key writes to every workspace: say which one (`workspace`)")
            return self._workspace(s, named)
        if named is not None and named != caller.workspace:
            raise Forbidden(f"this key is workspace {caller.workspace!r}'s; it may not write to {named!r}")
        return s.get(Workspace, caller.workspace_id)

    @staticmethod
    def _workspace(s: Session, name: str) -> Workspace:
        workspace = s.scalar(select(Workspace).where(Workspace.name == name)) if is_safe_name(name) else None
        if workspace is None:
            raise NotFound(f"no workspace {name!r} (POST /v1/keys makes one with its first key)")
        return workspace

    @staticmethod
    def _workspace_name(s: Session, kit: KitRow) -> str:
        return s.get(Workspace, kit.workspace_id).name  # the session's identity map: one query per workspace


def _key_info(key: ApiKey, workspace: str) -> ApiKeyInfo:
    return ApiKeyInfo(id=key.id, workspace=workspace, label=key.label, shown=key.shown,
                      created_at=_seconds(key.created_at), last_used_at=_seconds(key.last_used_at),
                      revoked_at=_seconds(key.revoked_at))


def _kit(row: KitVersionRow, workspace: str) -> BrandKit:
    return BrandKit(id=row.kit_id, workspace=workspace, version=row.version,
                    **{field: getattr(row, field) for field in KIT_FIELDS})


def _version(row: KitVersionRow, workspace: str) -> BrandKitVersion:
    return BrandKitVersion(kit=_kit(row, workspace), created_at=_seconds(row.created_at))


def _info(kit: KitRow, latest: KitVersionRow, workspace: str) -> BrandKitInfo:
    return BrandKitInfo(kit=_kit(latest, workspace), created_at=_seconds(kit.created_at),
                        updated_at=_seconds(kit.updated_at), deleted_at=_seconds(kit.deleted_at))

