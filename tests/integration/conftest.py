"""A real local Ray cluster with the whole local graph deployed from configs/serve_local.yaml.

Package-scoped: one deployment serves every integration module (starting vLLM costs about a minute),
and the cluster is gone before other test packages start Ray clusters of their own.
"""

from __future__ import annotations

import httpx
import pytest

from tools.local_cluster import deploy, local_ray, wait_ready


@pytest.fixture(scope="package")
def ray_cluster():
    with local_ray() as cluster:
        yield cluster


@pytest.fixture(scope="package")
def dashboard(ray_cluster) -> str:
    return ray_cluster.dashboard


API_KEY = "integration-test-key"  # write routes (training jobs, promotions) need one; unset they answer 503


def _with_api_key(cfg: dict) -> None:
    cfg["applications"][0]["runtime_env"]["env_vars"]["ADGENESIS_API_KEY"] = API_KEY


@pytest.fixture(scope="package")
def api_key() -> str:
    return API_KEY


@pytest.fixture(scope="package")
def serve_app(dashboard, tmp_path_factory):
    """Base URL of the deployed local graph, ready (every model loaded)."""
    base = deploy(dashboard, workdir=tmp_path_factory.mktemp("serve"), edit=_with_api_key)
    print(f"\nlocal graph ready in {wait_ready(base, dashboard):.0f} s")
    return base


@pytest.fixture(scope="package")
def client(serve_app):
    with httpx.Client(base_url=serve_app, timeout=900) as c:  # CPU vLLM under load is slow
        yield c
