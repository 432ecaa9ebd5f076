# pare: every target installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install -q
export OMP_NUM_THREADS ?= 1     # one torch thread per process (parallel runs on few cores)
export HF_HUB_OFFLINE ?= 1      # the demo, tests and notebooks need no network

.PHONY: install demo test test-fast notebooks bench train-offline eval-offline

install:
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .

demo: install  ## draw a picture with the offline model
	$(PYTHON) -m pare "a red circle on a black background" --model pare/models/tiny-sd2 --out out/demo.png

test: install  ## every test, and every notebook run top to bottom (nbval)
	$(PYTHON) -m pytest -q tests notebooks --nbval-lax -p no:cacheprovider

test-fast: install  ## the module's tests only
	$(PYTHON) -m pytest -q tests -p no:cacheprovider

notebooks: install  ## re-execute every notebook in place (after changing pare or a notebook)
	$(PYTHON) tools/notebooks.py
	for nb in notebooks/*.ipynb; do jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done

bench: install  ## pare against diffusers, side by side; writes BENCHMARKS.md
	$(PYTHON) bench/bench.py

train-offline: install  ## retrain both offline models from scratch (about 45 minutes on 2 cores)
	$(PYTHON) -m pare.train

eval-offline: install  ## score the offline models: colour and shape accuracy per prompt
	$(PYTHON) tools/eval_offline.py
