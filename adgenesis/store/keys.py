"""Workspace API keys: random tokens, kept only as their sha256, and who a request's key says the caller is.

A token is `TOKEN_PREFIX` + 32 random bytes (urlsafe base64): guessing one is hopeless, so an unsalted sha256 is
enough to keep the database from holding anything that works as a key (a slow password hash buys nothing for
random tokens), and the comparison is hmac.compare_digest's. Its first `SHOWN_CHARS` characters are kept in clear
to tell keys apart in a listing, and to find a key's row without comparing every hash.

The admin key (`ADGENESIS_API_KEY`, adgenesis/lifecycle/auth.py) is not a workspace key: it sees every workspace.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from adgenesis.checksum import bytes_sha256

TOKEN_PREFIX = "agk_"  # tells an AdGenesis workspace key from the admin key and other secrets at a glance
TOKEN_BYTES = 32
SHOWN_CHARS = 12  # the prefix and 8 random characters: enough to tell a workspace's keys apart


@dataclass(frozen=True)
class Caller:
    """Whom a request's key stands for: the admin (every workspace) or one workspace."""

    workspace_id: str | None  # None: the admin
    workspace: str | None = None  # its name, for messages

    @property
    def admin(self) -> bool:
        return self.workspace_id is None


ADMIN = Caller(workspace_id=None)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return bytes_sha256(token.encode())


def shown_part(token: str) -> str:
    return token[:SHOWN_CHARS]


def same_hash(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
