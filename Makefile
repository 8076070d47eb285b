# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench soak clean

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

# The nightly soak (docs/scale-out.md): 1,000 MQTT devices on the embedded emulator held for
# SOAK_HOLD (SOAK_HOLD=2h make soak), a wave of jobs every 5 minutes, half of the devices
# dropped mid-hold; the SLO gates decide the exit status. Reports go to reports/soak/. The
# storm's 500 reconnects describe $next at once, past AWS's 200 Jobs requests/s, which the
# emulator enforces: RequestThrottled (retried by the devices) is allowed up to 10 % of the
# Jobs requests (7 % over a 2-minute hold, 2 % over 10 minutes); other rejections are not.
SOAK_HOLD ?= 30m
SOAK_USERS ?= 1001
soak: $(STAMP)
	mkdir -p reports/soak
	$(BIN)/locust -f locustfiles/soak.py --headless --only-summary \
		--users $(SOAK_USERS) --spawn-rate 50 --device-profile fast \
		--soak-hold $(SOAK_HOLD) --soak-wave-period 5m --soak-storm-fraction 0.5 \
		--rollout-max-per-minute 1000 --stop-when-done \
		--gate-success-ratio 0.9 --gate-p95-queued-to-terminal 60 \
		--gate-connect-failure-ratio 0.01 --gate-rejections RequestThrottled=0.1,VersionMismatch=0.01,InvalidStateTransition=0.01,InvalidRequest=0,InternalError=0 \
		--gate-non-terminal 0 \
		--html reports/soak/soak.html --csv reports/soak/soak --json-file reports/soak/stats

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
