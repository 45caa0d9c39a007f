# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# torch is installed first from TORCH_SPEC so that a CPU build is used where one is available.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.aeimpute-installed
# one torch/BLAS thread: fastest for these model sizes and never oversubscribes 2 cores
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: demo test docs lint bench bench-speed bench-quick bench-keypoints bench-fusion bench-scale clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m aeimpute.demo

# pytest exits 5 when it collected no test: treat that as a failure, not a pass.
# Tests run on one thread (AEIMPUTE_NUM_THREADS); the estimators' default takes every core.
test: $(STAMP)
	AEIMPUTE_NUM_THREADS=1 $(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# the documentation site (mkdocs, sources in docs/) into site/, strict: a broken link, a missing
# reference or a docstring that does not render fails the build
DOCS_STAMP := $(VENV)/.aeimpute-docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# the tabular benchmark suite (see benchmarks/tabular.py); the full run takes about an hour
bench: $(STAMP)
	$(BIN)/python benchmarks/tabular.py

# time against accuracy, every method on every core (see benchmarks/speed.py); about 20 minutes
bench-speed: $(STAMP)
	$(BIN)/python benchmarks/speed.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/tabular.py --quick

# the keypoint repair benchmarks (benchmarks/keypoint_recordings.py: recordings the model has not
# seen, about an hour; keypoint_views.py: a second camera view, about 20 minutes;
# keypoint_cameras.py: calibrated cameras, under a minute; keypoints.py: gaps in the recording
# fitted on, about 20 minutes)
bench-keypoints: $(STAMP)
	$(BIN)/python benchmarks/keypoint_recordings.py
	$(BIN)/python benchmarks/keypoint_views.py
	$(BIN)/python benchmarks/keypoint_cameras.py
	$(BIN)/python benchmarks/keypoints.py

# the fused multi-channel benchmark on UCI Air Quality (see benchmarks/fusion.py); about 40 minutes
bench-fusion: $(STAMP)
	$(BIN)/python benchmarks/fusion.py

# transform throughput, streaming memory and fit time against rows (see benchmarks/scale.py)
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py --rows 10000 100000 1000000 10000000 --fit-rows 1000000

lint: $(STAMP)
	$(BIN)/ruff check aeimpute tests examples benchmarks

clean:
	rm -rf $(VENV) demo_output .pytest_cache
