"""The Serve REST API on the dashboard (`GET`/`PUT /api/serve/applications/`), through Ray's own client (the one
`serve deploy` and `serve status` use): an application redeployed from its own config with one deployment's
user_config changed, which Serve applies in place (`reconfigure` on the running replicas)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from adgenesis.errors import Conflict, DependencyFailed, TimedOut
from adgenesis.lifecycle.dashboard import auth_headers
from adgenesis.polling import poll
from adgenesis.ray_compat import ServeSubmissionClient
from adgenesis.service_errors import dashboard_call


class ServeConfigClient:
    """With Ray's auth token header whatever this process's RAY_AUTH_MODE (`dashboard.auth_headers`)."""

    def __init__(self, dashboard: str):
        self.dashboard = dashboard.rstrip("/")

    @cached_property  # made on first use: Ray's client asks the dashboard for its version when made
    def client(self) -> ServeSubmissionClient:
        return ServeSubmissionClient(self.dashboard, headers=auth_headers())

    def _call(self, what: str, request: Callable[[ServeSubmissionClient], Any]) -> Any:
        with dashboard_call(f"Serve REST API at {self.dashboard}: {what}"):
            return request(self.client)

    def details(self) -> dict[str, Any]:
        return self._call("GET applications", lambda client: client.get_serve_details())

    def user_config(self, app: str, deployment: str) -> Any:
        dep = self.details()["applications"].get(app, {}).get("deployments", {}).get(deployment, {})
        return (dep.get("deployment_config") or {}).get("user_config")

    def set_user_config(self, app: str, deployment: str, user_config: dict[str, Any], timeout_s: float) -> None:
        """Redeploy every application from its own deployed config, changing only `deployment`'s
        user_config, then wait until Serve reports the deployment HEALTHY with it on every replica."""
        details = self.details()
        apps = details.get("applications") or {}
        if app not in apps:
            raise Conflict(f"Serve application {app!r} not found; running: {sorted(apps)}")
        configs = []
        for name, info in apps.items():
            cfg = info.get("deployed_app_config")
            if cfg is None:
                raise Conflict(f"Serve application {name!r} was not deployed from a config file (serve deploy), so its "
                    "config cannot be updated in place; deploy the graph with `serve deploy <config>`"
                )
            if name == app:
                cfg = json.loads(json.dumps(cfg))
                deployments = cfg.setdefault("deployments", [])
                entry = next((d for d in deployments if d.get("name") == deployment), None)
                if entry is None:
                    entry = {"name": deployment}
                    deployments.append(entry)
                entry["user_config"] = user_config
            configs.append(cfg)
        body: dict[str, Any] = {"applications": configs}
        for key in ("proxy_location", "http_options", "grpc_options", "target_capacity"):
            if details.get(key) is not None:
                body[key] = details[key]
        self._call("the update was refused", lambda client: client.deploy_applications(body))
        self.wait_healthy(app, deployment, user_config, timeout_s)

    def wait_healthy(self, app: str, deployment: str, user_config: dict[str, Any], timeout_s: float) -> None:
        last = "no status yet"
        for _ in poll(timeout_s, interval_s=0.5):
            info = self.details()["applications"].get(app, {})
            dep = info.get("deployments", {}).get(deployment, {})
            target = (dep.get("deployment_config") or {}).get("user_config")
            replicas = dep.get("replicas") or []
            states = sorted({r.get("state") for r in replicas})
            last = f"app {info.get('status')}, {deployment} {dep.get('status')}, replicas {states}"
            if info.get("status") == "DEPLOY_FAILED" or dep.get("status") in ("UNHEALTHY", "DEPLOY_FAILED"):
                raise DependencyFailed(f"the update failed: {last}: {dep.get('message') or info.get('message')}")
            if target == user_config and dep.get("status") == "HEALTHY" and replicas and states == ["RUNNING"]:
                return
        raise TimedOut(f"the update did not finish within {timeout_s:.0f}s ({last})")

