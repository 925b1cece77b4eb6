"""Clients of the shared cluster (tests/conftest.py: `server`) as the lifecycle's users reach it: the typed
`LifecycleClient`, plain HTTP and the `adgenesis` CLI's environment."""

from __future__ import annotations

import os

import httpx
import pytest

from adgenesis.lifecycle.client import LifecycleClient


@pytest.fixture(scope="package")
def api(server) -> LifecycleClient:
    with LifecycleClient(server.url, api_key=server.api_key, timeout=600) as client:
        yield client


@pytest.fixture(scope="package")
def http(server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=300) as client:
        yield client


@pytest.fixture(scope="package")
def cli_env(server) -> dict[str, str]:
    return {**os.environ, "ADGENESIS_URL": server.url, "ADGENESIS_API_KEY": server.api_key}
