"""Where things live. Everything is relative to the repo root unless an absolute path is configured."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(os.environ.get("ADGENESIS_HOME", Path(__file__).resolve().parents[1]))
CONFIGS_DIR = REPO_ROOT / "configs"
DATA_DIR = REPO_ROOT / "data"
MODELS_DIR = Path(os.environ.get("ADGENESIS_MODELS_DIR", REPO_ROOT / "models"))
MODELS_MANIFEST = MODELS_DIR / "manifest.json"  # written by tools/prepare_models.py; see adgenesis/checksum.py
RUNS_DIR = Path(os.environ.get("ADGENESIS_RUNS_DIR", REPO_ROOT / "runs"))


def resolve(path: str | Path, base: Path = REPO_ROOT) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base / p)


class PathEscape(ValueError):
    pass


# The one rule for a user- or config-supplied name that becomes a single folder or file name as it is
# (adapters, aliases, run folders, registered models, job ids, batch row ids): never a path, never hidden.
SAFE_NAME_MAX = 128
SAFE_NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{SAFE_NAME_MAX - 1}}}$"
SAFE_NAME_RULE = f"1-{SAFE_NAME_MAX} letters, digits, '.', '_' or '-', starting with a letter or digit, no '..'"
_SAFE_NAME = re.compile(SAFE_NAME_PATTERN)


def is_safe_name(name: object) -> bool:
    # fullmatch: with match, "$" also accepts a trailing newline
    return isinstance(name, str) and _SAFE_NAME.fullmatch(name) is not None and ".." not in name


def check_safe_name(name: str) -> str:
    """`name` itself, or PathEscape (a ValueError, so pydantic validators can use it) saying the rule."""
    if not is_safe_name(name):
        raise PathEscape(f"{name!r} is not a plain name: {SAFE_NAME_RULE}")
    return name


def safe_child(root: Path, name: str) -> Path:
    """Join a user-supplied relative name under `root`, refusing anything that would leave it."""
    if not name or name.startswith(("/", "~")) or "\\" in name or any(part == ".." for part in Path(name).parts):
        raise PathEscape(f"{name!r} is not a plain relative name inside {root}")
    candidate = (root / name).resolve()
    root_resolved = root.resolve()
    if candidate != root_resolved and root_resolved not in candidate.parents:
        raise PathEscape(f"{name!r} resolves outside {root}")
    return candidate
