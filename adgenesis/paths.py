"""Where things live. Everything is relative to the repo root unless an absolute path is configured."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(os.environ.get("ADGENESIS_HOME", Path(__file__).resolve().parents[1]))
CONFIGS_DIR = REPO_ROOT / "configs"
DATA_DIR = REPO_ROOT / "data"
MODELS_DIR = Path(os.environ.get("ADGENESIS_MODELS_DIR", REPO_ROOT / "models"))
MODELS_MANIFEST = MODELS_DIR / "manifest.json"  # written by prepare_models; see adgenesis/checksum.py
RUNS_DIR = Path(os.environ.get("ADGENESIS_RUNS_DIR", REPO_ROOT / "runs"))


def resolve(path: str | Path, base: Path = REPO_ROOT) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base / p)


class PathEscape(ValueError):
    pass


def safe_child(root: Path, name: str) -> Path:
    """Join a user-supplied relative name under `root`, refusing anything that would leave it."""
    if not name or name.startswith(("/", "~")) or "\\" in name or any(part == ".." for part in Path(name).parts):
        raise PathEscape(f"{name!r} is not a plain relative name inside {root}")
    candidate = (root / name).resolve()
    root_resolved = root.resolve()
    if candidate != root_resolved and root_resolved not in candidate.parents:
        raise PathEscape(f"{name!r} resolves outside {root}")
    return candidate
