"""The one checksum of a model folder, and of the files in it (sha256, which also names an uploaded logo or font:
adgenesis/brand.py).

`tools.prepare_models` records it in models/manifest.json, the registry tags every version with it and checks
it on load, and the engines report its first `SHORT_LENGTH` hex digits as `model_version`; one scheme,
so an id seen in a response, a registry listing and the manifest names the same files.

Scheme: sha256 over the lines "<relative path>\\0<size>\\0<sha256 of the file>\\n" for every file in
the folder, sorted by relative POSIX path as a string. Only relative paths go in, so a copy of a folder
(a registry download, a deploy folder) has the checksum of the original.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from adgenesis.paths import MODELS_MANIFEST, resolve

SCHEME = "sha256 over sorted lines '<relpath>\\0<size>\\0<file sha256>\\n'"
SHORT_LENGTH = 12  # what responses and listings show: tells versions apart and still reads at a glance


def bytes_sha256(data: bytes) -> str:
    """The same digest as `file_sha256`, of bytes in memory (an upload, named by its content)."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def hash_folder(folder: str | Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """(folder checksum, {relative path: {"size", "sha256"}}); the per-file part lets a mismatch name the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    paths = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    rel = sorted(paths)  # as strings: Path order differs ("a/b" < "a.txt" as paths, not as strings)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:  # hashlib releases the GIL
        digests = list(pool.map(file_sha256, (paths[r] for r in rel)))
    files = {r: {"size": paths[r].stat().st_size, "sha256": d} for r, d in zip(rel, digests)}
    total = hashlib.sha256()
    for r in rel:
        total.update(f"{r}\0{files[r]['size']}\0{files[r]['sha256']}\n".encode())
    return total.hexdigest(), files


def folder_checksum(folder: str | Path) -> str:
    return hash_folder(folder)[0]


def short(checksum: str) -> str:
    return checksum[:SHORT_LENGTH]


def recorded_checksum(folder: str | Path, manifest: Path | None = None) -> str | None:
    """The checksum `tools.prepare_models` recorded for `folder` in its manifest, if it still applies.

    Hashing the served folders takes seconds at every replica start; the manifest entry is trusted only
    while the folder holds exactly the files it lists at the recorded sizes, so a folder overwritten in
    place (a retrained model) falls back to hashing instead of reporting a stale id.
    """
    folder = Path(folder)
    manifest = manifest or MODELS_MANIFEST
    try:
        entries = json.loads(manifest.read_text()).get("models", {})
    except (OSError, ValueError, AttributeError):
        return None
    for entry in entries.values() if isinstance(entries, dict) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) or "path" not in entry:
            continue
        if resolve(entry["path"], manifest.parent).resolve() != folder.resolve():
            continue
        files = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
        recorded = {rel: meta.get("size") for rel, meta in (entry.get("files") or {}).items()}
        return entry["sha256"] if files == recorded else None
    return None


def folder_version(source: str | Path, manifest: Path | None = None) -> str:
    """The short checksum of a model folder (as recorded in the manifest, else computed), what engines
    report as `model_version`. A hub id, which cannot be hashed without downloading, gets the short
    sha256 of its name: the only stable id there is."""
    folder = Path(source)
    if not folder.is_dir():
        return short(hashlib.sha256(str(folder).encode()).hexdigest())
    return short(recorded_checksum(folder, manifest) or folder_checksum(folder))


__all__ = ["SCHEME", "SHORT_LENGTH", "bytes_sha256", "file_sha256", "folder_checksum", "folder_version", "hash_folder",
           "recorded_checksum", "short"]
