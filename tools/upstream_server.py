"""A second OpenAI-compatible server to fall back to: vLLM's own API server on the profile's design model, with
the engine arguments the LLM replica runs (`adgenesis.engines.vllm_setup.engine_setup`), so its briefs decode alike.

The upstream of the tests' graph (tests/integration/test_fallback.py), and a way to try `Profile.upstream` on one
machine:

    python -m tools.upstream_server --port 8123 --model upstream-design   # then point `upstream:` at it
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from adgenesis.paths import REPO_ROOT, RUNS_DIR
from adgenesis.settings import LLMSettings, load_profile
from adgenesis.engines.vllm_setup import engine_setup, model_folder
from tools.processes import http_service

KVCACHE_GIB = 1  # a handful of briefs at a time


def command(settings: LLMSettings, port: int, model: str, api_key: str | None) -> tuple[list[str], dict[str, str]]:
    """`python -m vllm.entrypoints.openai.api_server ...` and its environment, for the profile's base model."""
    # No adapters (the base folder is what `make models` built) and one core: the upstream stands beside the graph.
    settings = settings.model_copy(update={"lora_dir": None, "cpu_threads_bind": "auto", "cpu_kvcache_gib": KVCACHE_GIB})
    engine_kwargs, env = engine_setup(settings)
    args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_folder(settings),
            "--served-model-name", model, "--host", "127.0.0.1", "--port", str(port)]
    for key, value in engine_kwargs.items():
        flag = key.replace("_", "-")
        if isinstance(value, bool):
            args.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            args += [f"--{flag}", json.dumps(value) if isinstance(value, dict) else str(value)]
    if api_key:  # in the environment: argv is world-readable (ps), and argparse reads a key starting "-" as a flag
        env = {**env, "VLLM_API_KEY": api_key}
    return args, env


@contextmanager
def upstream_server(settings: LLMSettings, port: int, model: str, log: Path, api_key: str | None = None,
                    timeout_s: float = 300) -> Iterator[subprocess.Popen]:
    """The server, up (its /v1/models answers) until the block ends, its output in `log`; then stopped."""
    args, env = command(settings, port, model, api_key)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    with http_service("the upstream server", args, f"http://127.0.0.1:{port}/v1/models", log, timeout_s=timeout_s,
                      headers=headers, env={**os.environ, **env}, cwd=REPO_ROOT) as proc:
        yield proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--model", default="upstream-design", help="the name it serves the model as")
    parser.add_argument("--api-key-env", default="ADGENESIS_UPSTREAM_API_KEY",
                        help="environment variable with the key it requires (unset: none)")
    args = parser.parse_args()
    log = RUNS_DIR / "upstream_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with upstream_server(load_profile(args.profile).llm, args.port, args.model, log,
                         os.environ.get(args.api_key_env)) as proc:
        print(f"upstream: http://127.0.0.1:{args.port}/v1, model {args.model!r}, log {log} (Ctrl-C stops it)",
              flush=True)
        try:
            proc.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
