"""API keys for the lifecycle endpoints; the same key is the admin key of the brand kits' workspaces (their own
keys: adgenesis/store/keys.py, deployments/brand_kit_routes.py).

Write endpoints (submit, cancel, promote, rollback) always need a key; read endpoints only when
`lifecycle.read_requires_key` is set. The key comes from the environment variable named by
`lifecycle.api_key_env` (default ADGENESIS_API_KEY; several keys, comma-separated, for rotation).
With no key configured, endpoints that need one are refused (503): never open by default.

Clients send `Authorization: Bearer <key>` or `X-API-Key: <key>`.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

from adgenesis.errors import Forbidden, Unauthenticated, Unavailable

BEARER = "bearer "


def configured_keys(env_name: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    raw = (environ if environ is not None else os.environ).get(env_name, "")
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries (header names are case-insensitive in Starlette's Headers)."""
    auth = headers.get("authorization") or headers.get("Authorization")
    if auth and auth[: len(BEARER)].lower() == BEARER:
        return auth[len(BEARER):].strip() or None
    key = headers.get("x-api-key") or headers.get("X-API-Key")
    return key.strip() if key and key.strip() else None


class ApiKeyAuth:
    def __init__(self, env_name: str, read_requires_key: bool, environ: Mapping[str, str] | None = None):
        self.env_name = env_name
        self.read_requires_key = read_requires_key
        self._keys = configured_keys(env_name, environ)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def accepts(self, key: str) -> bool:
        """`key` is one of the configured keys (compared in constant time with every one)."""
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in self._keys)

    def check(self, headers: Mapping[str, str], *, write: bool) -> None:
        """Raise Unauthenticated, Forbidden or Unavailable (no key configured) unless the request may proceed."""
        if not write and not self.read_requires_key:
            return
        what = "write" if write else "read"
        if not self._keys:
            raise Unavailable(f"{what} endpoints are disabled: no API key is configured on the server "
                f"(set {self.env_name} in the application's environment)",
            )
        key = presented_key(headers)
        if key is None:
            raise Unauthenticated(f"this {what} endpoint needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not self.accepts(key):
            raise Forbidden("the API key is not valid")
