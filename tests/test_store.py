"""The brand-kit store (adgenesis/store/) as the routes use it, every test once on SQLite and once on a real
PostgreSQL server (tests/conftest.py `database_url`): migrations from empty, keys hashed at rest, versions, the
workspace rules, and every refusal storing nothing; and the record of canary promotions (adgenesis/store/promotions.py).
No Ray. Over HTTP: tests/test_brand_kit_routes.py."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from PIL import Image
from pydantic import ValidationError
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from adgenesis.brand import BrandKit, kit_file, uploads_dir
from adgenesis.errors import (
    Conflict,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    RequestError,
    TooLarge,
    Unavailable,
    UnsupportedMedia,
)
from adgenesis.lifecycle.canary import Outcome, decide, stats
from adgenesis.paths import REPO_ROOT, PathEscape
from adgenesis.polling import poll
from adgenesis.protocol import ApiKeyCreate, BrandKitCreate, BrandKitPatch
from adgenesis.settings import CanaryGate, StoreSettings
from adgenesis.store import database
from adgenesis.store.keys import ADMIN, token_hash
from adgenesis.store.models import Base, KitVersionRow, PromotionDecisionRow, PromotionRow, UploadedFile, now
from adgenesis.store.promotions import Promotions
from adgenesis.store.store import Store
from deployments.http_errors import status_of
from tests.brand_files import SVG_LOGO, font_bytes, logo_bytes

LEGIBLE = [{"hex": "#FFFFFF", "role": "background"}, {"hex": "#1A1A1A", "role": "text"},
           {"hex": "#C8102E", "role": "button"}, {"hex": "#FFFFFF", "role": "button_text"}]


def kit_request(**fields) -> BrandKitCreate:
    return BrandKitCreate(**{"name": "Acme", "palette": LEGIBLE, "headline_font": {"family": "Montserrat"},
                             "body_font": {"family": "Inter"}, "voice_words": ["bold", "fresh"],
                             "banned_words": ["cheap"], "disclaimer": "Terms apply."} | fields)


@pytest.fixture
def settings(database_url, tmp_path) -> StoreSettings:
    return StoreSettings(database_url=database_url, uploads_dir=str(tmp_path / "uploads"), max_logo_bytes=64 * 1024,
                         max_logo_pixels=1_000_000, max_font_bytes=64 * 1024)


@pytest.fixture
def store(settings):
    store = Store.open(settings)
    yield store
    store.close()


@pytest.fixture
def acme(store):
    """A workspace's key and its caller."""
    created = store.create_key(ApiKeyCreate(workspace="acme"))
    return created.token, store.caller(created.token)


def rows(store: Store | Promotions) -> dict[str, list[tuple]]:
    """Every row of every table."""
    with store.engine.connect() as c:
        return {t: [tuple(r) for r in c.execute(text(f"SELECT * FROM {t}"))] for t in Base.metadata.tables}


def counts(store: Store | Promotions) -> dict[str, int]:
    return {table: len(found) for table, found in rows(store).items()}


def uploaded(settings: StoreSettings) -> list[str]:
    folder = uploads_dir(settings)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# --------------------------------------------------------------------------------------------------
# The database: made and migrated from empty, by any number of replicas at once
# --------------------------------------------------------------------------------------------------


def test_migrations_upgrade_an_empty_database_to_a_schema_that_matches_the_models(settings):
    store = Store.open(settings)
    try:
        assert database.current_revision(store.engine) == database.head_revision()
        with store.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert differences == [], differences
            assert set(inspect(connection).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        store.close()
    Store.open(settings).close()  # a second start finds it at head and does nothing
    assert database.current_revision(database.make_engine(settings.database_url, settings)) == database.head_revision()


# A replica: imports, says it is ready, waits for the word, opens the store (Alembic's context is one per process, as
# replicas are: threads would share it).
REPLICA = """
import sys, time
from pathlib import Path
from adgenesis.settings import StoreSettings
from adgenesis.store.store import Store
settings, folder, n = StoreSettings.model_validate_json(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
(folder / f"ready-{n}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
Store.open(settings).close()
"""
REPLICAS = 3


def test_replicas_starting_at_once_migrate_once(settings, tmp_path):
    started = [subprocess.Popen([sys.executable, "-c", REPLICA, settings.model_dump_json(), str(tmp_path), str(n)],
                                cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True) for n in range(REPLICAS)]
    for _ in poll(timeout_s=60, interval_s=0.05):
        if all((tmp_path / f"ready-{n}").exists() for n in range(REPLICAS)) or any(p.poll() for p in started):
            break
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=60)[1] for p in started]
    assert [p.returncode for p in started] == [0] * REPLICAS, errors
    store = Store.open(settings)
    assert database.current_revision(store.engine) == database.head_revision()
    store.create_key(ApiKeyCreate(workspace="acme"))
    store.close()


def test_the_database_url_comes_from_the_environment_the_profile_or_the_runs_folder():
    settings = StoreSettings(database_url="sqlite:///profile.db")
    assert database.database_url(settings, {settings.database_url_env: "postgresql+psycopg://db/x"}) == \
        "postgresql+psycopg://db/x"
    assert database.database_url(settings, {}) == "sqlite:///profile.db"
    assert database.database_url(StoreSettings(), {}) == f"sqlite:///{database.SQLITE_FILE}"
    with pytest.raises(Unavailable, match="ADGENESIS_DATABASE_URL"):
        database.database_url(StoreSettings(sqlite_fallback=False), {})


def test_a_database_that_is_not_there_is_a_503(tmp_path):
    from tools.postgres import free_port

    settings = StoreSettings(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none",
                             uploads_dir=str(tmp_path))
    with pytest.raises(Unavailable, match="not reachable") as exc:
        Store.open(settings)
    assert status_of(exc.value) == 503 and "password" not in exc.value.message


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------


def test_keys_are_stored_as_their_hash_only_and_a_revoked_key_is_refused(store):
    created = store.create_key(ApiKeyCreate(workspace="acme", label="ci"))
    token = created.token
    assert created.workspace_created and token.startswith("agk_") and created.key.shown == token[:12]
    everything = repr(rows(store))
    assert token not in everything and token[12:] not in everything and token_hash(token) in everything

    caller = store.caller(token)
    assert caller.workspace == "acme" and not caller.admin
    assert store.list_keys("acme").keys[0].last_used_at is not None
    again = store.create_key(ApiKeyCreate(workspace="acme"))
    assert not again.workspace_created and store.caller(again.token).workspace_id == caller.workspace_id

    with pytest.raises(Forbidden, match="not valid"):
        store.caller(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert store.revoke_key(created.key.id).revoked_at is not None
    with pytest.raises(Forbidden, match="revoked"):
        store.caller(token)
    with pytest.raises(Conflict):
        store.revoke_key(created.key.id)
    with pytest.raises(NotFound):
        store.revoke_key("key_" + "0" * 24)
    assert store.caller(again.token).workspace == "acme"  # the other key still works
    assert [(w.name, w.keys) for w in store.list_workspaces().workspaces] == [("acme", 1)]


# --------------------------------------------------------------------------------------------------
# Kits and their versions
# --------------------------------------------------------------------------------------------------


def test_an_edit_makes_version_2_and_version_1_stays_as_it_was(store, acme):
    _, caller = acme
    first = store.create_kit(caller, kit_request())
    kit = first.kit
    assert (kit.version, kit.workspace, kit.palette[0].hex, kit.voice_words) == (1, "acme", "#FFFFFF", ("bold", "fresh"))
    edited = store.edit_kit(caller, kit.id, BrandKitPatch(palette=[{"hex": "#000000", "role": "background"},
                                                                   {"hex": "#fafafa", "role": "text"}],
                                                          disclaimer=None))
    assert edited.kit.version == 2 and edited.kit.disclaimer is None and edited.kit.palette[1].hex == "#FAFAFA"
    assert edited.kit.voice_words == ("bold", "fresh")  # what the edit did not send stays
    assert store.resolve(caller, kit.id, 1) == kit and store.resolve(caller, "Acme") == edited.kit
    assert [v.kit.version for v in store.versions(caller, "Acme").versions] == [1, 2]
    assert isinstance(store.resolve(caller, kit.id), BrandKit)
    with pytest.raises(NotFound, match="has no version 3"):
        store.version(caller, kit.id, 3)

    renamed = store.edit_kit(caller, "Acme", BrandKitPatch(name="Acme Summer"))
    assert renamed.kit.name == "Acme Summer" and store.resolve(caller, kit.id, 1).name == "Acme"
    with pytest.raises(NotFound):
        store.kit(caller, "Acme")

    with store._sessions.begin() as s:  # a version row is never changed, whatever changes it
        row = s.get(KitVersionRow, (kit.id, 1))
        row.disclaimer = "changed"
        with pytest.raises(TypeError, match="immutable"):
            s.flush()
        s.rollback()
    assert store.resolve(caller, kit.id, 1).disclaimer == "Terms apply."


def test_edits_at_the_same_moment_each_build_on_the_one_before(store, acme):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    patches = [BrandKitPatch(disclaimer="New terms."), BrandKitPatch(voice_words=["daring"]),
               BrandKitPatch(banned_words=["budget"])]
    start = threading.Barrier(len(patches))
    failed = []

    def edit(patch):
        start.wait()
        try:
            store.edit_kit(caller, kit.id, patch)
        except RequestError as exc:
            failed.append(exc)

    threads = [threading.Thread(target=edit, args=(patch,)) for patch in patches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    latest = store.resolve(caller, kit.id)
    assert latest.version == 4 and (latest.disclaimer, latest.voice_words, latest.banned_words) == (
        "New terms.", ("daring",), ("budget",))


def test_a_deleted_kit_is_gone_from_listings_and_names_and_its_versions_still_render(store, acme):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    assert store.delete_kit(caller, "Acme").deleted_at is not None
    assert store.list_kits(caller).kits == []
    for gone in (lambda: store.kit(caller, kit.id), lambda: store.resolve(caller, "Acme"),
                 lambda: store.resolve(caller, kit.id), lambda: store.delete_kit(caller, kit.id),
                 lambda: store.edit_kit(caller, kit.id, BrandKitPatch(disclaimer="x"))):
        with pytest.raises(NotFound):
            gone()
    assert store.resolve(caller, kit.id, 1) == kit  # an old design still renders with its version
    assert store.create_kit(caller, kit_request()).kit.id != kit.id  # the name is free again


def test_another_workspaces_kit_is_not_found_to_read_or_use_and_forbidden_to_change(store, acme):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    other = store.caller(store.create_key(ApiKeyCreate(workspace="globex")).token)
    for read in (lambda ref: store.kit(other, ref), lambda ref: store.resolve(other, ref),
                 lambda ref: store.resolve(other, ref, 1), lambda ref: store.versions(other, ref),
                 lambda ref: store.file(other, ref, "x.png")):
        for ref in (kit.id, "Acme"):
            with pytest.raises(NotFound):
                read(ref)
    before = counts(store)
    for write in (lambda: store.edit_kit(other, kit.id, BrandKitPatch(disclaimer="mine now")),
                  lambda: store.delete_kit(other, kit.id), lambda: store.upload_logo(other, kit.id, logo_bytes())):
        with pytest.raises(Forbidden):
            write()
    with pytest.raises(NotFound):  # by name, a key finds its own workspace's kits only
        store.edit_kit(other, "Acme", BrandKitPatch(disclaimer="mine now"))
    with pytest.raises(Forbidden):
        store.create_kit(other, kit_request(workspace="acme"))
    assert counts(store) == before and store.list_kits(other).kits == []
    with pytest.raises(NotFound):
        store.list_kits(other, "acme")

    # The admin sees and changes every workspace's kits, and says which workspace a new one is for.
    assert [k.kit.id for k in store.list_kits(ADMIN).kits] == [kit.id] and store.resolve(ADMIN, "Acme") == kit
    theirs = store.create_kit(ADMIN, kit_request(workspace="globex")).kit
    assert theirs.workspace == "globex" and store.resolve(other, "Acme") == theirs
    with pytest.raises(Invalid, match="several workspaces"):
        store.resolve(ADMIN, "Acme")
    with pytest.raises(Invalid, match="which one"):
        store.create_kit(ADMIN, kit_request(name="No workspace"))
    with pytest.raises(NotFound):
        store.create_kit(ADMIN, kit_request(workspace="initech"))


# --------------------------------------------------------------------------------------------------
# Refusals: a clear error, and nothing stored
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields, kind, words", [
    ({"palette": [{"hex": "#FFFFFF", "role": "background"}, {"hex": "#AAAAAA", "role": "text"},
                  {"hex": "#DDDDDD", "role": "accent"}]}, Invalid,
     ["no pair of colours legible", "4.5:1", "#AAAAAA (text) on #FFFFFF (background) at 2.32:1"]),
    ({"palette": [*LEGIBLE[:2], {"hex": "#C8102E", "role": "button"}, {"hex": "#B00020", "role": "button_text"}]},
     Invalid, ["button", "3:1", "#B00020 (button_text) on #C8102E (button) at 1.2"]),
    ({"headline_font": {"family": "Comic Sans"}}, Invalid, ["headline_font", "not a bundled font family"]),
    ({"body_font": {"family": "Inter", "file": "0" * 64 + ".ttf"}}, Invalid, ["not a font this workspace uploaded"]),
    ({"voice_words": ["Cheap"]}, Invalid, ["both in the voice and banned", "cheap"]),
    ({"name": "Existing"}, Conflict, ["exists"]),
], ids=["illegible-palette", "illegible-button", "unknown-font", "font-not-uploaded", "voiced-and-banned", "name-taken"])
def test_a_kit_that_fails_a_check_is_refused_with_what_to_change_and_nothing_is_stored(store, acme, fields, kind,
                                                                                        words):
    _, caller = acme
    store.create_kit(caller, kit_request(name="Existing"))
    before = counts(store)
    with pytest.raises(kind) as exc:
        store.create_kit(caller, kit_request(**fields))
    assert all(w in exc.value.message for w in words), exc.value.message
    assert 400 <= status_of(exc.value) < 500 and counts(store) == before

    kit = store.resolve(caller, "Existing")
    if "name" not in fields:  # the same change as an edit: no version 2
        with pytest.raises(kind):
            store.edit_kit(caller, "Existing", BrandKitPatch(**fields))
        assert counts(store) == before and store.resolve(caller, "Existing") == kit


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "logo.png", "C:\\kits", " padded", "x" * 65, ""])
def test_a_kit_name_with_path_characters_is_refused_before_the_store(name):
    with pytest.raises(ValidationError, match="kit name|at least 1|at most"):
        kit_request(name=name)


def test_a_palette_needs_a_background_and_a_text_colour_and_2_to_8_colours():
    with pytest.raises(ValidationError, match="none for \\['text'\\]"):
        kit_request(palette=[{"hex": "#FFFFFF", "role": "background"}, {"hex": "#000000", "role": "accent"}])
    with pytest.raises(ValidationError, match="at least 2"):
        kit_request(palette=LEGIBLE[:1])
    with pytest.raises(ValidationError, match="at most 8"):
        kit_request(palette=LEGIBLE * 3)
    with pytest.raises(ValidationError, match="pattern"):
        kit_request(palette=[{"hex": "red", "role": "background"}, *LEGIBLE[1:]])
    with pytest.raises(ValidationError, match="at most 200"):
        kit_request(disclaimer="x" * 201)


# --------------------------------------------------------------------------------------------------
# Uploads: logos and fonts
# --------------------------------------------------------------------------------------------------


def test_a_logo_is_trimmed_kept_as_png_under_its_hash_and_makes_a_version(store, acme, settings):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    for fmt, transparent in (("PNG", False), ("WEBP", False), ("PNG", True), ("JPEG", False)):
        info = store.upload_logo(caller, kit.id, logo_bytes(fmt, transparent=transparent))
        data, media_type = store.file(caller, kit.id, info.kit.logo)
        assert media_type == "image/png" and info.kit.logo == f"{hashlib.sha256(data).hexdigest()}.png"
        assert kit_file(settings, info.kit.logo).read_bytes() == data
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG" and image.mode == "RGBA"
        if fmt == "JPEG":  # the border is gone, but for the ringing a JPEG leaves around the mark
            assert image.width < 120 - 20 and image.height < 80 - 20
        else:
            assert image.size == (80, 40)
    assert store.resolve(caller, kit.id).version == 5 and store.resolve(caller, kit.id, 1).logo is None
    # Removing it is an edit; naming it again, a logo of the workspace's, another.
    assert store.edit_kit(caller, kit.id, BrandKitPatch(logo=None)).kit.logo is None
    assert store.edit_kit(caller, kit.id, BrandKitPatch(logo=info.kit.logo)).kit.logo == info.kit.logo


@pytest.mark.parametrize("data, kind, words", [
    (SVG_LOGO, UnsupportedMedia, ["SVG"]),
    (logo_bytes("GIF"), UnsupportedMedia, ["PNG, WEBP"]),
    (b"", Malformed, ["empty"]),
    (logo_bytes()[:60], Malformed, ["image"]),
    (logo_bytes("PNG", size=(1200, 1000), border=0), TooLarge, ["pixels"]),
    (logo_bytes("BMP", size=(60, 40), border=10), UnsupportedMedia, ["SVG"]),
    (b"\x89PNG\r\n\x1a\n" + b"0" * 70 * 1024, TooLarge, ["bytes"]),
    (logo_bytes(size=(200, 200), mark=False), Invalid, ["flat colour"]),
], ids=["svg", "gif", "empty", "truncated", "too-many-pixels", "bmp", "too-many-bytes", "blank"])
def test_a_bad_logo_is_refused_and_nothing_is_stored(store, acme, settings, data, kind, words):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    before = counts(store)
    with pytest.raises(kind) as exc:
        store.upload_logo(caller, kit.id, data)
    assert all(w in exc.value.message for w in words), exc.value.message
    assert counts(store) == before and uploaded(settings) == [] and store.resolve(caller, kit.id).version == 1


@pytest.mark.parametrize("otf", [False, True], ids=["ttf", "otf"])
def test_an_uploaded_font_becomes_the_headline_or_body_font_of_a_new_version(store, acme, settings, otf):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    info = store.upload_font(caller, kit.id, font_bytes(family="Acme Display", otf=otf), "headline")
    font = info.kit.headline_font
    assert font.family == "Acme Display" and font.file.endswith(".otf" if otf else ".ttf")
    assert info.kit.body_font == kit.body_font and info.kit.version == 2
    assert store.file(caller, kit.id, font.file) == (kit_file(settings, font.file).read_bytes(),
                                                    "font/otf" if otf else "font/ttf")
    # The uploaded font, named by its file, can be chosen for the other slot; its family is the file's own.
    body = store.edit_kit(caller, kit.id, BrandKitPatch(body_font={"family": "whatever", "file": font.file})).kit
    assert body.body_font == font


@pytest.mark.parametrize("data, kind, words", [
    (font_bytes()[:400], Malformed, ["unreadable font"]),
    (b"\x00\x01\x00\x00" + b"\xff" * 500, Malformed, ["unreadable font"]),
    (b"wOFF" + b"\x00" * 100, UnsupportedMedia, ["WOFF"]),
    (logo_bytes(), UnsupportedMedia, ["TrueType", "not a font"]),
    (font_bytes(characters="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), Invalid,
     ["cannot draw", "Á"]),
    (font_bytes(empty="ñ"), Invalid, ["cannot draw 1", "ñ"]),
    (b"\x00\x01\x00\x00" + b"\x00" * 70 * 1024, TooLarge, ["bytes"]),
    (b"", Malformed, ["empty"]),
], ids=["truncated", "garbage", "woff", "png", "no-accents", "empty-glyph", "too-large", "empty"])
def test_a_bad_font_is_refused_and_nothing_is_stored(store, acme, settings, data, kind, words):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    before = counts(store)
    with pytest.raises(kind) as exc:
        store.upload_font(caller, kit.id, data, "body")
    assert all(w in exc.value.message for w in words), exc.value.message
    assert counts(store) == before and uploaded(settings) == [] and store.resolve(caller, kit.id).version == 1


def test_uploaded_files_are_found_by_hash_inside_the_uploads_folder_only(settings):
    name = "a" * 64 + ".png"
    assert kit_file(settings, name) == Path(settings.uploads_dir).resolve() / name
    for bad in ("../" + name, "/etc/passwd", "a" * 64 + ".svg", "A" * 64 + ".png", name + "/x", ""):
        with pytest.raises(PathEscape):
            kit_file(settings, bad)


def test_a_file_of_another_kit_of_the_workspace_is_its_own_and_of_another_workspace_none(store, acme):
    _, caller = acme
    kit = store.create_kit(caller, kit_request()).kit
    logo = store.upload_logo(caller, kit.id, logo_bytes()).kit.logo
    other = store.caller(store.create_key(ApiKeyCreate(workspace="globex")).token)
    theirs = store.create_kit(other, kit_request()).kit
    with pytest.raises(NotFound):
        store.file(other, theirs.id, logo)  # the same name, never uploaded by globex
    with pytest.raises(Invalid, match="not a logo this workspace uploaded"):
        store.edit_kit(other, theirs.id, BrandKitPatch(logo=logo))
    assert store.upload_logo(other, theirs.id, logo_bytes()).kit.logo == logo  # the same bytes: one file on disk
    assert store.file(other, theirs.id, logo)[0] == store.file(caller, kit.id, logo)[0]
    with store._sessions() as s:
        assert len(s.scalars(select(UploadedFile).where(UploadedFile.name == logo)).all()) == 2


# --------------------------------------------------------------------------------------------------
# Canary promotions: their record (adgenesis/store/promotions.py; the gate itself is tests/test_canary.py's)
# --------------------------------------------------------------------------------------------------

STEPS = (10, 50, 100)


@pytest.fixture
def promotions(settings):
    promotions = Promotions.open(settings)
    yield promotions
    promotions.close()


def gate_numbers(action: str) -> dict:
    """What the Lifecycle records with a decision: the gate's own, as JSON."""
    good = stats(Outcome(latency_s=1.0, layouts=1, passed=1, grounded=1, conditions_kept=1) for _ in range(60))
    bad = stats(Outcome(latency_s=1.0, layouts=1) for _ in range(60))
    decision = decide(CanaryGate(), good, good if action == "advance" else bad)
    assert decision.action == action
    return decision.model_dump(mode="json")


def test_a_canary_is_started_decided_advanced_to_100_and_promoted(promotions):
    gate = CanaryGate(min_requests=20, p95_ratio=1.5)
    started = promotions.start("design-llm-lora", candidate_version=4, incumbent_version=3, steps=STEPS, gate=gate)
    assert (started.state, started.current_step, started.share_percent, started.steps) == ("running", 0, 10, STEPS)
    assert started.id.startswith("prm_") and started.gate == gate and started.incumbent_version == 3

    numbers = gate_numbers("advance")
    first = promotions.record_decision(started.id, "advance", numbers)
    assert (first.step, first.decision, first.numbers) == (0, "advance", numbers)
    assert promotions.advance(started.id).share_percent == 50
    promotions.record_decision(started.id, "advance", numbers)
    at_full = promotions.advance(started.id)
    assert (at_full.current_step, at_full.share_percent) == (2, 100)
    with pytest.raises(Conflict, match="last step"):
        promotions.advance(started.id)
    promoted = promotions.finish(started.id, "promoted")
    assert promoted.state == "promoted" and promoted.updated_at >= promoted.created_at == started.created_at

    record = promotions.get(started.id)
    assert record.state == "promoted" and record.gate == gate and record.share_percent == 100
    assert [(d.step, d.decision) for d in record.decisions] == [(0, "advance"), (1, "advance")]
    assert record.decisions[0].numbers["checks"][0]["name"] == "all_checks"
    assert promotions.running("design-llm-lora") is None
    for ended in (lambda: promotions.advance(started.id), lambda: promotions.finish(started.id, "rolled_back"),
                  lambda: promotions.record_decision(started.id, "rollback", numbers)):
        with pytest.raises(Conflict, match="has ended \\(promoted\\)"):
            ended()
    assert promotions.get(started.id) == record  # nothing changed by the refusals


def test_a_rollback_is_recorded_with_the_numbers_it_was_decided_on(promotions):
    started = promotions.start("design-llm-lora", 5, None, STEPS, CanaryGate())
    assert started.incumbent_version is None  # the profile's default model served
    numbers = gate_numbers("rollback")
    promotions.record_decision(started.id, "wait", {"reason": "too few requests"})
    promotions.record_decision(started.id, "rollback", numbers)
    assert promotions.finish(started.id, "rolled_back").state == "rolled_back"
    decisions = promotions.get(started.id).decisions
    assert [d.decision for d in decisions] == ["wait", "rollback"] and decisions[0].id < decisions[1].id
    assert decisions[1].numbers == numbers
    assert decisions[1].numbers["broken"] == ["all_checks", "grounded", "conditions"]
    assert decisions[1].numbers["candidate"]["all_checks_share"] == 0.0


def test_a_second_running_promotion_of_a_model_is_refused_and_one_that_ended_is_not_in_the_way(promotions):
    first = promotions.start("design-llm-lora", 4, 3, STEPS, CanaryGate())
    before = counts(promotions)
    with pytest.raises(Conflict, match=f"promotion {first.id} of design-llm-lora is running"):
        promotions.start("design-llm-lora", 5, 3, STEPS, CanaryGate())
    assert counts(promotions) == before
    other = promotions.start("router-classifier", 2, 1, (50, 100), CanaryGate())  # another model: its own canary
    promotions.finish(first.id, "cancelled")
    again = promotions.start("design-llm-lora", 5, 3, STEPS, CanaryGate())
    assert promotions.running("design-llm-lora") == again and promotions.running("router-classifier") == other

    # The database keeps the rule itself, whatever writes the row.
    with promotions._sessions.begin() as s:
        s.add(PromotionRow(id="prm_" + "0" * 24, model_name="router-classifier", candidate_version=3,
                           incumbent_version=2, steps=[100], current_step=0, state="running", gate={},
                           created_at=now(), updated_at=now()))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()


def test_starts_at_the_same_moment_make_one_running_promotion(promotions):
    starts = 4
    barrier = threading.Barrier(starts)
    started, refused = [], []

    def start(version: int) -> None:
        barrier.wait()
        try:
            started.append(promotions.start("design-llm-lora", version, 1, STEPS, CanaryGate()))
        except Conflict as exc:
            refused.append(exc)

    threads = [threading.Thread(target=start, args=(version,)) for version in range(2, 2 + starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1 and len(refused) == starts - 1, refused
    assert promotions.running("design-llm-lora") == started[0]


def test_the_running_promotions_are_found_for_a_replica_that_resumes_them(promotions):
    ended = promotions.start("design-llm-lora", 2, 1, STEPS, CanaryGate())
    promotions.finish(ended.id, "failed")
    running = promotions.start("design-llm-lora", 3, 1, STEPS, CanaryGate())
    promotions.advance(running.id)
    classifier = promotions.start("router-classifier", 2, None, (100,), CanaryGate())
    found = promotions.running("design-llm-lora")
    assert found.id == running.id and found.current_step == 1 and found.share_percent == 50
    assert [p.id for p in promotions.list_promotions(state="running").promotions] == [classifier.id, running.id]
    assert [p.id for p in promotions.list_promotions("design-llm-lora").promotions] == [running.id, ended.id]
    assert [p.state for p in promotions.list_promotions("design-llm-lora").promotions] == ["running", "failed"]
    assert promotions.list_promotions("no-such-model").promotions == [] and promotions.running("no-such-model") is None
    assert promotions.list_promotions("../x").promotions == [] and promotions.running("a\x00b") is None


def test_a_promotion_is_promoted_only_from_its_last_step(promotions):
    started = promotions.start("design-llm-lora", 2, 1, STEPS, CanaryGate())
    with pytest.raises(Conflict, match="not its last step"):
        promotions.finish(started.id, "promoted")
    assert promotions.get(started.id).state == "running"
    assert promotions.finish(started.id, "rolled_back").state == "rolled_back"


@pytest.mark.parametrize("call, kind, words", [
    (lambda p: p.start("design-llm-lora", 2, 1, (50, 10, 100), CanaryGate()), Invalid, ["steps", "increase"]),
    (lambda p: p.start("design-llm-lora", 2, 1, (10, 50), CanaryGate()), Invalid, ["end at 100"]),
    (lambda p: p.start("design-llm-lora", 3, 3, STEPS, CanaryGate()), Invalid, ["is the incumbent"]),
    (lambda p: p.start("design-llm-lora", 0, None, STEPS, CanaryGate()), Invalid, ["numbered from 1"]),
    (lambda p: p.start("../etc", 2, 1, STEPS, CanaryGate()), Invalid, ["model name"]),
    (lambda p: p.get("prm_" + "0" * 24), NotFound, ["no promotion"]),
    (lambda p: p.get("a\x00b"), NotFound, ["no promotion"]),
    (lambda p: p.advance("prm_" + "0" * 24), NotFound, ["no promotion"]),
    (lambda p: p.finish("prm_" + "0" * 24, "running"), Invalid, ["promoted, rolled_back, cancelled, failed"]),
    (lambda p: p.record_decision("prm_" + "0" * 24, "promote", {}), Invalid, ["wait, advance, rollback"]),
    (lambda p: p.list_promotions(state="paused"), Invalid, ["running, promoted"]),
], ids=["decreasing-steps", "short-steps", "same-version", "version-0", "bad-name", "unknown", "nul", "advance-unknown",
        "finish-running", "bad-decision", "bad-state"])
def test_a_bad_promotion_call_is_refused_and_nothing_is_stored(promotions, call, kind, words):
    before = counts(promotions)
    with pytest.raises(kind) as exc:
        call(promotions)
    assert all(w in exc.value.message for w in words), exc.value.message
    assert 400 <= status_of(exc.value) < 500 and counts(promotions) == before


def test_a_decision_is_never_changed_once_recorded(promotions):
    started = promotions.start("design-llm-lora", 2, 1, STEPS, CanaryGate())
    decision = promotions.record_decision(started.id, "advance", gate_numbers("advance"))
    with promotions._sessions.begin() as s:
        row = s.get(PromotionDecisionRow, decision.id)
        row.decision = "rollback"
        with pytest.raises(TypeError, match="decisions are a record"):
            s.flush()
        s.rollback()
    assert promotions.get(started.id).decisions == [decision]
