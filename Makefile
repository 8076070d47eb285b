# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

# The virtual environment is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (simfleet needs Python 3.11+; set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 11))" || { echo "error: simfleet needs Python 3.11+, $(PYTHON) is older" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# A short headless Locust run: 300 MQTT devices (plus the operator) run one job on the embedded
# emulator, rolled out at 1,000 a minute to stay under AWS's 200/s Jobs write quota, which the
# emulator enforces; the run ends when the job does.
demo: $(STAMP)
	$(BIN)/locust -f locustfiles/jobs_mqtt.py --headless --users 301 --spawn-rate 50 \
		--run-time 2m --device-profile fast --job-prefix demo --rollout-max-per-minute 1000 \
		--stop-when-done --only-summary

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
