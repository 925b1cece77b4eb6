"""One folder checksum (adgenesis.checksum): what prepare_models records in its manifest, what the registry
tags a version with, and the `model_version` the engines report name the same files, wherever they lie.
The real classifier engine's side is in tests/test_engines.py (test_classifier_version_is_the_folder_checksum)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from adgenesis import checksum
from tools import prepare_models as pm
from adgenesis import registry

# "a.txt" sorts before "a/b" as a string but after it as a Path: the scheme must pick one order everywhere.
FILES = {"a.txt": b"alpha", "a/b": b"bravo", "weights/model.bin": bytes(range(256)) * 8}


def write_folder(folder: Path) -> Path:
    for rel, data in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def build_tiny(out: Path, profile) -> dict:
    write_folder(out)
    return {"kind": "test"}


TINY = pm.Recipe("tiny", build_tiny, lambda profile: "models/tiny", lambda: {})


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    """prepare_models and the manifest lookup pointed at a temporary models folder."""
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setattr(pm, "MODELS_DIR", root)
    monkeypatch.setattr(pm, "MANIFEST", root / "manifest.json")
    monkeypatch.setattr(checksum, "MODELS_MANIFEST", root / "manifest.json")
    monkeypatch.setitem(pm.RECIPE_VERSIONS, "tiny", 1)
    return root


class FakeMlflow:
    """Just what `registry.register_folder` calls, keeping the tags it registers."""

    def __init__(self):
        self.tags: dict[str, str] = {}

    def log_artifacts(self, run_id, local_dir, artifact_path):
        pass

    def get_run(self, run_id):
        return SimpleNamespace(info=SimpleNamespace(artifact_uri="file:///nowhere"))

    def get_registered_model(self, name):
        return name

    def create_model_version(self, name, source, run_id, tags, description=None):
        self.tags = tags
        return SimpleNamespace(name=name, version="1", tags=tags)


def test_manifest_registry_and_model_version_are_one_checksum(models_dir, tmp_path):
    folder = models_dir / "tiny"
    entry = pm.build_one(TINY, folder, {}, profile=None)
    manifest = json.loads(pm.MANIFEST.read_text())
    assert manifest["models"]["tiny"]["sha256"] == entry["sha256"] and manifest["checksum_scheme"] == checksum.SCHEME
    assert set(entry["files"]) == set(FILES)

    fake = FakeMlflow()
    registry.register_folder(fake, "run", folder, "tiny")
    assert fake.tags[registry.CHECKSUM_TAG] == entry["sha256"]
    assert checksum.folder_version(folder) == checksum.short(entry["sha256"])  # read from the manifest

    # A copy elsewhere (a registry download, a deploy folder) is hashed, not looked up: same ids.
    copy = shutil.copytree(folder, tmp_path / "elsewhere" / "tiny-v1")
    assert checksum.recorded_checksum(copy) is None
    assert checksum.folder_checksum(copy) == entry["sha256"]
    assert checksum.folder_version(copy) == checksum.short(entry["sha256"])


def test_prepare_models_up_to_date_check_uses_the_same_checksum(models_dir):
    folder = models_dir / "tiny"
    pm.build_one(TINY, folder, {}, profile=None)
    assert pm.stale_reason("tiny", folder, {}, pm.read_manifest()) is None

    (folder / "a.txt").write_bytes(b"alphA")  # same size: only the content hash can tell
    assert checksum.recorded_checksum(folder) is not None  # sizes match, so the fast lookup still trusts it...
    assert "a.txt" in pm.stale_reason("tiny", folder, {}, pm.read_manifest())  # ...but prepare_models rehashes

    (folder / "a.txt").write_bytes(b"alpha, longer")
    assert checksum.recorded_checksum(folder) is None  # a size change: the version is computed, not stale
    assert checksum.folder_version(folder) == checksum.short(checksum.folder_checksum(folder))


def test_every_byte_and_name_counts(tmp_path):
    base = checksum.folder_checksum(write_folder(tmp_path / "x"))
    assert base == checksum.folder_checksum(write_folder(tmp_path / "y"))
    (tmp_path / "y" / "weights" / "model.bin").write_bytes(bytes(range(256)) * 7 + bytes(255) + b"\1")
    assert checksum.folder_checksum(tmp_path / "y") != base
    (tmp_path / "x" / "a.txt").rename(tmp_path / "x" / "b.txt")
    assert checksum.folder_checksum(tmp_path / "x") != base
    with pytest.raises(FileNotFoundError):
        checksum.folder_checksum(tmp_path / "missing")


def test_a_hub_id_gets_a_stable_short_id():
    assert checksum.folder_version("org/some-model") == checksum.folder_version("org/some-model")
    assert len(checksum.folder_version("org/some-model")) == checksum.SHORT_LENGTH
    assert checksum.folder_version("org/some-model") != checksum.folder_version("org/other-model")
