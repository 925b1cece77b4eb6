"""Aliases of adapter folders: `<lora_dir>/aliases.json` maps a name to a versioned adapter folder.

Promotion materializes a registered version as its own folder, `<registered name>-v<N>`, and points
two aliases at it: `production` and the registered model's name. A request for `design-llm:production`
(or `lora=production` for images) is resolved to `design-llm:<name>-v<N>` *before* it reaches the
model server, so every version is a new multiplexed model id: no server ever has a stale copy of
"production" cached, and in-flight requests finish on the version they started with.

    {"format": 1, "aliases": {"production": {"target": "design-llm-lora-v3", "registered_model":
     "design-llm-lora", "version": 3, "updated_at": "2026-11-23T04:00:00Z"}, ...}}

The file is replaced atomically (write + rename), so readers see the old or the new mapping, never half.
An alias shadows an adapter folder of the same name.

A canary promotion (adgenesis/lifecycle/canary_run.py) points `canary` at its candidate, with the share of requests
it serves and the promotion's id and step: of the requests that name no model, those whose id falls in the share
(`serves_candidate`) are served by the candidate, the others by `production` (or the base model without one).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from adgenesis.files import write_atomic
from adgenesis.paths import is_safe_name as valid_name  # the one name rule; callers know it by this name
from adgenesis.settings import FULL_SHARE

ALIAS_FILE = "aliases.json"
FORMAT = 1
PRODUCTION = "production"  # the promoted version, the registry's alias of the same name
CANARY = "canary"  # a canary promotion's candidate; its entry also holds `share`, `promotion` and `step`
# A request id's bucket: 8 bytes of blake2b, uniform enough that 100 buckets differ by far less than a point. Not the
# repository's checksum (adgenesis/checksum.py): that names files by their content; this only has to spread ids.
BUCKET_DIGEST_BYTES = 8


class AliasError(ValueError):
    pass


def alias_file(lora_dir: Path) -> Path:
    return Path(lora_dir) / ALIAS_FILE


def read_aliases(lora_dir: Path | None) -> dict[str, dict[str, Any]]:
    """alias -> {"target", ...}; {} when there is no file (or it is unreadable: serving must go on)."""
    if lora_dir is None:
        return {}
    try:
        raw = json.loads(alias_file(lora_dir).read_text())
    except (OSError, ValueError):
        return {}
    aliases = raw.get("aliases") if isinstance(raw, dict) else None
    if not isinstance(aliases, dict):
        return {}
    return {k: v for k, v in aliases.items() if valid_name(k) and isinstance(v, dict) and valid_name(v.get("target", ""))}


def resolve(lora_dir: Path | None, name: str) -> str:
    """The adapter folder name an adapter name or alias refers to (a plain name resolves to itself)."""
    entry = read_aliases(lora_dir).get(name)
    return entry["target"] if entry else name


def _write(lora_dir: Path, aliases: dict[str, dict[str, Any]]) -> None:
    lora_dir = Path(lora_dir)
    lora_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": FORMAT, "aliases": aliases}, indent=2, sort_keys=True) + "\n"
    write_atomic(alias_file(lora_dir), text)


def set_aliases(lora_dir: Path, names: list[str], target: str, **meta: Any) -> None:
    """Point every alias in `names` at the folder `target` (which must exist in `lora_dir`)."""
    for name in [*names, target]:
        if not valid_name(name):
            raise AliasError(f"{name!r} is not a valid adapter or alias name")
    if not (Path(lora_dir) / target).is_dir():
        raise AliasError(f"alias target {target!r} is not a folder in {lora_dir}")
    aliases = read_aliases(lora_dir)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in names:
        aliases[name] = {"target": target, **meta, "updated_at": now}
    _write(lora_dir, aliases)


def remove_aliases(lora_dir: Path, names: list[str], *, only_if_target: set[str] | None = None) -> None:
    """Drop aliases (those pointing at one of `only_if_target`, when given)."""
    aliases = read_aliases(lora_dir)
    changed = False
    for name in names:
        entry = aliases.get(name)
        if entry and (only_if_target is None or entry["target"] in only_if_target):
            del aliases[name]
            changed = True
    if changed:
        _write(lora_dir, aliases)


def serves_candidate(request_id: str, share_percent: int) -> bool:
    """Whether a canary's candidate serves this request at this share: the request id's bucket (0-99, from its hash)
    is below the share. Stable: the same id, the same side; and a request the candidate served at 10 % it still
    serves at 50 %."""
    if not 0 <= share_percent <= FULL_SHARE:
        raise ValueError(f"share_percent {share_percent} is not within 0-{FULL_SHARE}")
    digest = hashlib.blake2b(request_id.encode(), digest_size=BUCKET_DIGEST_BYTES).digest()
    return int.from_bytes(digest, "big") % FULL_SHARE < share_percent


class AliasResolver:
    """Per-request resolution that re-reads the file only when it changed (stat), for deployments."""

    def __init__(self, lora_dir: Path | None):
        self.lora_dir = Path(lora_dir) if lora_dir else None
        self._stamp: tuple[int, int, int] | None = None
        self._aliases: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def aliases(self) -> dict[str, dict[str, Any]]:
        if self.lora_dir is None:
            return {}
        try:
            st = alias_file(self.lora_dir).stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._aliases = read_aliases(self.lora_dir) if stamp else {}
                self._stamp = stamp
            return self._aliases

    def resolve(self, name: str) -> str:
        entry = self.aliases().get(name)
        return entry["target"] if entry else name

    def default_model(self, model_id: str, request_id: str | None) -> tuple[str, dict[str, Any] | None]:
        """What a request that names no model is served by: a running canary's candidate for the requests in its
        share, else the promoted version, else the base model `model_id`; and the canary's entry (`target`, `share`,
        `promotion`, `step`, ...) when one runs and the request has an id, from the same reading of the file."""
        aliases = self.aliases()
        canary = aliases.get(CANARY) if request_id is not None else None
        if canary is not None and serves_candidate(request_id, int(canary.get("share", 0))):
            return f"{model_id}:{CANARY}", canary
        return (f"{model_id}:{PRODUCTION}" if PRODUCTION in aliases else model_id), canary

    def resolve_model(self, model: str) -> str:
        """`design-llm:production` -> `design-llm:<name>-v<N>`; a base model id or a plain adapter stays as it is."""
        base, sep, adapter = model.partition(":")
        return f"{base}:{self.resolve(adapter)}" if sep and adapter else model
