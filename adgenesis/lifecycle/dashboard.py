"""Where the Ray dashboard is (Ray Jobs, the Serve REST API, the state API) and how to authenticate to it."""

from __future__ import annotations

import os

DASHBOARD_ENV = "ADGENESIS_RAY_DASHBOARD"


def dashboard_address(configured: str | None = None) -> str:
    """Settings, else $ADGENESIS_RAY_DASHBOARD, else the dashboard of the Ray cluster this process is in."""
    address = configured or os.environ.get(DASHBOARD_ENV)
    if not address:
        try:
            import ray

            if ray.is_initialized():
                from adgenesis.ray_compat import get_webui_url_from_internal_kv

                address = get_webui_url_from_internal_kv()
                host, _, port = (address or "").rpartition(":")
                if host in ("0.0.0.0", "::", "[::]"):  # bound to every interface: use the head's address
                    address = f"{ray.get_runtime_context().gcs_address.rpartition(':')[0]}:{port}"
        except Exception:  # noqa: BLE001 - fall back to the default port
            address = None
    address = address or "127.0.0.1:8265"
    return address if "://" in address else f"http://{address}"


def auth_headers() -> dict[str, str]:
    """Ray's own token auth (on by default since Ray 2.5x when ~/.ray/auth_token or RAY_AUTH_TOKEN exists):
    {"authorization": "Bearer <token>"}, or {} without a token. Ray's SDK clients add it themselves only when
    this process runs with RAY_AUTH_MODE=token; given to them as `headers`, it is sent either way."""
    try:
        from adgenesis.ray_compat import AuthenticationTokenLoader

        return dict(AuthenticationTokenLoader.instance().get_token_for_http_header(ignore_auth_mode=True) or {})
    except Exception:  # noqa: BLE001 - no token support in this Ray build
        return {}
