"""A route's upstream fallback (`adgenesis.engines.upstream`) inside a Serve replica: whether the local LLM has a
running replica comes from Serve's own status (a request sent while none runs would wait for the new one's minute
of loading), and each fallback is counted in `adgenesis_fallbacks_total`."""

from __future__ import annotations

import asyncio
import time

from ray import serve
from ray.serve.handle import DeploymentHandle

from adgenesis import metrics
from adgenesis.engines.upstream import Fallback, Upstream
from adgenesis.settings import UpstreamSettings


class RunningReplicas:
    """Does the handle's deployment have a running replica? Asked of Serve's controller at most every `fresh_s`."""

    def __init__(self, handle: DeploymentHandle, fresh_s: float):
        self._app, self._deployment, self._fresh_s = handle.app_name, handle.deployment_name, fresh_s
        self._running, self._checked = True, float("-inf")

    async def __call__(self) -> bool:
        if time.monotonic() - self._checked > self._fresh_s:
            self._checked = time.monotonic()
            status = await asyncio.to_thread(serve.status)  # a controller call: off the replica's event loop
            app = status.applications.get(self._app)
            deployment = app.deployments.get(self._deployment) if app else None
            self._running = bool(deployment and deployment.replica_states.get("RUNNING", 0))
        return self._running


def make_fallback(route: str, settings: dict | None, llm: DeploymentHandle) -> Fallback:
    """The route's fallback; without an upstream in the profile, the local model alone (its errors, as before)."""
    if settings is None:
        return Fallback()
    upstream = UpstreamSettings.model_validate(settings)
    return Fallback(Upstream(upstream), RunningReplicas(llm, upstream.replica_check_s),
                    lambda reason, outcome: metrics.record_fallback(route, reason, outcome))
