# The front door: every command a user or CI needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LINT_PATHS := $(wildcard nst tests scripts)
CONFIG ?= configs/starry.yaml
RUN ?=
SWEEP ?= configs/sweeps/style_weight.yaml
ARGS ?=
FLAGS ?=
LOGDIR ?= runs
PORT ?= 6006

.PHONY: install run web train apply export-model resume sweep score bench test test-fast lint format tensorboard clean

# The stamp makes `make install` a no-op until setup.cfg changes.
install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 14) else \
		"nst needs Python 3.10 to 3.13 (TensorFlow 2.21); found " + sys.version.split()[0] + \
		": run make install PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@
	@echo "installed: try  make run CONFIG=configs/starry.yaml"

# ARGS are config overrides; FLAGS are nst run's flags, e.g. FLAGS="--jobs 2" for a folder of photos
run: install
	$(BIN)/nst run $(CONFIG) $(FLAGS) $(if $(strip $(ARGS)),--set $(ARGS))

# The page in the browser (docs/web.md): prints its address; FLAGS="--jobs 2" etc.
web: install
	$(BIN)/nst web $(FLAGS)

# A feed-forward network for a style (docs/fast.md): make train CONFIG=configs/train/starry.yaml
train: install
	$(BIN)/nst train $(CONFIG) $(if $(strip $(ARGS)),--set $(ARGS))

# Stylize photos, folders and clips with a trained network in milliseconds a photo:
# make apply INPUT=assets/kodak/validation (MODEL defaults to the shipped models/starry.keras)
MODEL ?= models/starry.keras
INPUT ?= assets/kodak/validation
apply: install
	$(BIN)/nst apply $(MODEL) $(INPUT) $(FLAGS)

# make export-model MODEL=... FORMAT=tflite|savedmodel
FORMAT ?= tflite
export-model: install
	$(BIN)/nst export $(MODEL) --format $(FORMAT)

# Continue a run stopped by Ctrl-C, SIGTERM or a crash: make resume RUN=runs/starry/<time>
resume: install
	@test -n "$(RUN)" || { echo "make resume needs RUN=<run directory>, e.g. RUN=runs/starry/20261124-101500" >&2; exit 2; }
	$(BIN)/nst resume $(RUN) $(ARGS)

# ARGS here are sweep flags, e.g. ARGS="--jobs 2" or ARGS="--resume"
sweep: install
	$(BIN)/nst sweep $(SWEEP) $(ARGS)

# Quality readout of any images (docs/quality.md "Quality readout"):
# make score ARGS="assets/tubingen.jpg assets/starry_night.jpg runs/starry/<time>/final.png"
score: install
	$(BIN)/nst score $(ARGS)

# Timings, evaluations per iteration, time to quality, a real run's s/step (scripts/bench.py);
# ARGS=--quick is ~2 min; ARGS="--case defaults --size 512" times configs/starry.yaml end to end;
# ARGS="--case tiled" times evaluations whole and over tiles up to 8192 px
# (~1 h; docs/print-size.md)
bench: install
	$(BIN)/python scripts/bench.py $(ARGS)

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

tensorboard: install
	@echo "TensorBoard for $(LOGDIR) at http://localhost:$(PORT)/"
	$(BIN)/tensorboard --logdir $(LOGDIR) --port $(PORT)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
