# Two entry points on a fresh machine: `make serve` (set up, build local models, serve the graph)
# and `make test` (set up, build local models, run the tests). Every step is idempotent.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/setup_env.sh | sha1sum | cut -c1-12)

.PHONY: setup models serve monitor test test-fast bench train-design clean-models kuberay

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup_env.sh
	PY=$(PY) bash scripts/setup_env.sh
	touch $@

models: setup
	$(BIN)/python -m tools.prepare_models

serve: models
	$(BIN)/python -m tools.serve_local

# Prometheus on :9090 scraping the cluster `make serve` started (run it in a second terminal; docs/monitoring.md).
monitor: setup
	$(BIN)/python -m tools.monitor

# Everything CI runs, in tiers (tests/conftest.py): unit tests, the training recipes on a Ray instance of their own,
# then the integration and e2e tests on one shared cluster with the graph deployed once.
test: models
	$(BIN)/python -m pytest -q -ra

# The inner loop: the unit tests alone (no Ray cluster).
test-fast: models
	$(BIN)/python -m pytest -q -ra -m "not integration"

# deploy/kuberay/rayservice.yaml's serveConfigV2, written from serve_config.yaml (docs/deploy.md).
kuberay: setup
	$(BIN)/python -m tools.kuberay

bench: models
	$(BIN)/python benchmarks/llm_throughput.py
	$(BIN)/python benchmarks/vllm_cpu_settings.py

# Retrain the design model that `make models` merges and serves (~30 min on 2 CPU cores; docs/design.md).
# BASE=gemma-base TO=design-llm-alt trains the other base's (kept as an option, configs/local_alt.yaml).
BASE ?= design-llm-base
TO ?= design-llm
train-design: setup
	rm -rf runs/train/llm_sft/$(TO)-$(BASE)  # a fresh run, not a resumed one
	$(BIN)/python -m tools.prepare_models --only $(BASE)
	$(BIN)/python -m train_jobs.llm_sft --config configs/train/llm_sft.yaml --set base_model=$(BASE) \
		--set run.name=$(TO)-$(BASE)
	$(BIN)/python scripts/export_design_adapter.py runs/train/llm_sft/$(TO)-$(BASE) --to $(TO)
	$(BIN)/python -m tools.prepare_models $(if $(filter design-llm-alt,$(TO)),--only design-llm-alt design-llm-alt-untuned,)

clean-models:
	rm -rf models
