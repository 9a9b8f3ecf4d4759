# il2sim: two commands on a fresh machine
#   make demo   set up .venv and run the main job: a 200-patient high-dose melanoma trial
#   make patient   one typical high-dose melanoma patient with its figure
#   make test   set up .venv, run ruff and mypy, then the default test suite
#   make serve   set up .venv and start the local web page (http://127.0.0.1:8050/)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-output/trial
PATIENT_OUT ?= demo-output/patient

.PHONY: demo patient serve test lint calibrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[tests]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/il2sim trial --indication melanoma --regimen high-dose --patients 200 --out $(DEMO_OUT) --overwrite

patient: $(STAMP)
	$(BIN)/il2sim simulate --indication melanoma --regimen high-dose --out $(PATIENT_OUT) --overwrite

serve: $(STAMP)
	$(BIN)/il2sim serve

# developers: refit the population-level parameters and the shipped calibrated population (about 6-7 min on 2 cores)
calibrate: $(STAMP)
	$(BIN)/il2sim calibrate --out calibration-output --install
	$(BIN)/python tools/render_docs.py

# lint and types first (configured in pyproject.toml), then the default test suite
test: lint $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-output calibration-output .pytest_cache
