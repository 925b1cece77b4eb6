"""Faults injected into a running local graph, shared by tests/integration/test_faults.py and
benchmarks/resilience.py: find a deployment's replicas and kill one while clients keep calling a route."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import asdict, dataclass

import httpx

from adgenesis.polling import poll

SCALE_UP_WAIT_S = 120  # for the replica count the kill is timed after
APP = "adgenesis"


def _replica_actors(state: str, dashboard: str | None, deployment: str = "") -> list[dict]:
    """The replica actors in `state` (ALIVE, DEAD) of `deployment` (of the whole app when ""), as the state API
    lists them. Another cluster's through its dashboard over HTTP, with Ray's token header: this process's Ray SDK
    reads RAY_AUTH_MODE once, before a test cluster with token auth exists."""
    if dashboard is None:
        from ray.util.state import list_actors

        actors = [asdict(a) for a in list_actors(filters=[("state", "=", state)], limit=10_000, detail=True)]
    else:
        from adgenesis.lifecycle.dashboard import auth_headers

        r = httpx.get(f"{dashboard}/api/v0/actors", headers=auth_headers(), timeout=30,
                      params={"filter_keys": "state", "filter_predicates": "=", "filter_values": state,
                              "detail": "true", "limit": 10_000})
        r.raise_for_status()
        actors = r.json()["data"]["result"]["result"]
    return [a for a in actors if a["class_name"].startswith(f"ServeReplica:{APP}:{deployment}")]


def _live_replicas(deployment: str, dashboard: str | None) -> dict[str, int]:
    """name -> pid."""
    return {a["name"]: a["pid"] for a in _replica_actors("ALIVE", dashboard, deployment)}


def crashed_replicas(dashboard: str | None = None) -> int:
    """Replicas that died other than by Serve's own stop (downscaling) or `ray.kill`: OOM, a crashed worker, and
    `kill_replica`'s SIGKILL (count before and after what is measured)."""
    return sum(1 for a in _replica_actors("DEAD", dashboard)
               if not any(k in str(a.get("death_cause")) for k in ("RAY_KILL", "INTENDED", "exit_actor")))


def replicas(deployment: str, dashboard: str | None = None) -> list[str]:
    """Actor names of the deployment's live replicas (every replica of the app when `deployment` is ""), from the
    state API of the cluster this process is in, or of the one whose dashboard is given."""
    return list(_live_replicas(deployment, dashboard))


def kill_replica(actor_name: str, dashboard: str | None = None) -> None:
    """SIGKILL the replica's worker process, as a crash would: no driver connection needed, only the state API
    (the machine's own processes: local clusters)."""
    for deployment_actor, pid in _live_replicas("", dashboard).items():
        if deployment_actor == actor_name:
            os.kill(pid, signal.SIGKILL)
            return
    raise LookupError(f"no live replica named {actor_name}")


@dataclass
class KillUnderLoad:
    answers: list[tuple[float, int]]  # (when, status) of every request the clients sent
    killed_at: float

    @property
    def failed(self) -> list[int]:
        return [s for _, s in self.answers if s != 200]

    @property
    def longest_wait_s(self) -> float:
        """The longest time after the kill with no request answered: how long the route was out."""
        served = [self.killed_at] + sorted(t for t, s in self.answers if t > self.killed_at and s == 200)
        return max((b - a for a, b in zip(served, served[1:])), default=float("inf"))


def kill_under_load(url: str, deployment: str, path: str, body: dict, *, clients: int = 4, replicas_first: int = 2,
                    after_s: float = 15.0) -> KillUnderLoad:
    """`clients` closed-loop clients call `path`; once the deployment has `replicas_first` replicas (autoscaling
    under this load), one of them is killed; the load goes on `after_s` seconds."""
    answers: list[tuple[float, int]] = []
    stop = threading.Event()

    def load():
        with httpx.Client(base_url=url, timeout=120) as c:
            while not stop.is_set():
                answers.append((time.monotonic(), c.post(path, json=body).status_code))

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        for _ in poll(SCALE_UP_WAIT_S, interval_s=1):  # killed as soon as it has scaled up, or after the wait anyway
            if len(replicas(deployment)) >= replicas_first:
                break
        time.sleep(2)  # the new replica takes requests
        killed_at = time.monotonic()
        kill_replica(replicas(deployment)[0])
        time.sleep(after_s)
    finally:
        stop.set()
        for t in threads:
            t.join()
    return KillUnderLoad(answers, killed_at)
