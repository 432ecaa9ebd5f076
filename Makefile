# pare: every target installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
export OMP_NUM_THREADS ?= 1     # one torch thread per process (parallel runs on few cores)
export HF_HUB_OFFLINE ?= 1      # the demo, tests and notebooks need no network

# The Python every target runs: the one of the virtual environment (or conda environment) make runs
# in; outside one, .venv's, made once from $(PYTHON). Debian's and Ubuntu's own Python refuse
# `pip install` (PEP 668, "externally-managed-environment"), and a venv keeps pare's pins to itself.
IN_ENV := $(shell $(PYTHON) -c "import os, sys; \
	print(sys.prefix != sys.base_prefix or os.path.isdir(os.path.join(sys.prefix, 'conda-meta')))")
ifeq ($(IN_ENV),True)
PY = $(PYTHON)
else
PY = .venv/bin/python
endif
PIP = $(PY) -m pip install -q

# `make install` runs pip only when something is missing: a pin of requirements.txt, or pare
# installed editable from this checkout (-I: not the ./pare that sys.path's current folder would find).
define INSTALLED
import importlib.metadata as metadata, json, pathlib, sys
def has(pin):
    name, version = pin.split("==")
    try:
        return metadata.version(name).split("+")[0] == version.strip()  # torch 2.13.0+cpu is 2.13.0
    except metadata.PackageNotFoundError:
        return False
try:
    pare = json.loads(metadata.distribution("pare").read_text("direct_url.json"))
except (metadata.PackageNotFoundError, TypeError):
    pare = {}
here = pare.get("url") == pathlib.Path.cwd().as_uri() and pare.get("dir_info", {}).get("editable")
sys.exit(not (here and all(has(line) for line in open("requirements.txt") if "==" in line)))
endef
export INSTALLED

.PHONY: install lint demo test test-fast notebooks bench train-offline eval-offline test-floors test-colab \
	colab-constraints colab wheel gpu-check gpu-wheels site explorer slides

.venv/bin/python:  # made once, when make runs outside a virtual environment
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and \
	    f"pare needs Python 3.10 or newer, and $(PYTHON) is {sys.version.split()[0]}: make PYTHON=python3.11")'
	$(PYTHON) -m venv .venv || { rm -rf .venv; exit 1; }

install: | $(filter .venv/bin/python,$(PY))
	@$(PY) -I -c "$$INSTALLED" || { set -x; $(PIP) -r requirements.txt && $(PIP) --no-deps -e .; }

lint: install  ## ruff's formatting and lint checks, with pyproject.toml's settings
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

demo: install  ## draw a picture with the offline model: out/demo.png, and out/demo-enlarged.png to look at
	$(PY) -m pare "an evergreen tree on a blue background" --model pare/models/tiny-sd2 --sampler DPMSolverMultistep --karras --steps 12 --out out/demo.png

# --nbval-current-env: the notebooks run in this Python's kernel, not whatever kernel named python3
# the user's Jupyter folders hold (`ipykernel install --user` leaves one behind, for another Python).
test: lint  ## ruff, then every test, and every notebook run top to bottom (nbval)
	$(PY) -m pytest -q tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

test-fast: install  ## the module's tests, less those marked slow: no notebooks, no ruff
	$(PY) -m pytest -q tests -m "not slow" -p no:cacheprovider

# JUPYTER_PATH puts this Python's kernel named python3 (ipykernel's, in its prefix) before the user's.
notebooks: install  ## re-execute every notebook in place (after changing pare or a notebook)
	$(PY) tools/notebooks.py
	export JUPYTER_PATH=$$($(PY) -c "import sys; print(sys.prefix)")/share/jupyter; \
	for nb in notebooks/*.ipynb; do $(PY) -m nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done

bench: install  ## pare against diffusers, side by side; writes BENCHMARKS.md
	$(PY) bench/bench.py

train-offline: install  ## train the three offline models into out/train (resumes; a GPU: minutes); then --install copies them
	$(PY) -m pare.train out/train

eval-offline: install  ## measure the shipped offline models on what SD shows (fidelity, guidance, noise, img2img, attention, speed)
	$(PY) tools/eval_offline.py pare/models/tiny-sd2 pare/models/tiny-sd1 pare/models/tiny-flow

test-floors:  ## pare under its declared floors (constraints/floors.txt) in a fresh venv: .ci/run's floors step
	bash .ci/run floors

test-colab:  ## pare installed as the notebooks' setup cell does, under Colab's versions; every notebook run
	bash .ci/run colab

colab-constraints:  ## refresh constraints/colab.txt from googlecolab/backend-info (BACKEND_INFO=a clone on disk)
	$(PYTHON) constraints/refresh.py $(BACKEND_INFO)

colab: install  ## make colab REPO=owner/name: the repository's real home; re-stamps every badge and setup cell
	@test -n "$(REPO)" || { echo "usage: make colab REPO=owner/name (the GitHub repository the notebooks live in)"; exit 2; }
	$(PY) tools/notebooks.py --repo $(REPO)
	@echo "Now re-execute the notebooks (make notebooks), commit, and push to github.com/$(REPO): the badges resolve once it is there."

wheel: install  ## out/pare-*.whl, with the offline models inside: for Colab without a repository, `%pip install pare-*.whl`
	rm -rf build out/pare-*.whl
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w out .
	rm -rf build
	$(PY) -c "import glob, zipfile; w = glob.glob('out/pare-*.whl')[0]; n = [f for f in zipfile.ZipFile(w).namelist() \
	    if f.startswith('pare/models/') and f.endswith('.safetensors')]; assert len(n) >= 6, n; print(w, 'holds', len(n), 'weight files')"

site: explorer slides  ## out/site/: the course site from the committed notebooks (no re-execution), with the explorer and the slides
	$(PY) tools/site.py

explorer: install  ## out/site/explorer/: offline-model denoising runs traced step by step, to scrub in a page (about 1 min)
	$(PY) tools/explorer.py

slides: install  ## out/site/slides/: a reveal.js deck per notebook, from its committed outputs
	$(PY) tools/site.py --slides

gpu-check:  ## the GPU path measured (on a lent GPU, <= 8 min): writes BENCHMARKS.md and README; DRY=1: a CPU rehearsal
	$(PYTHON) tools/gpu_check.py $(if $(DRY),--dry-run)

gpu-wheels:  ## .whl/: what gpu-check needs on the GPU machine beyond its image (Python 3.12); see tools/gpu_check.py
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
	    diffusers==0.42.1 nbclient nbformat ipykernel ipython jupyter_client jupyter_core traitlets pyzmq tornado \
	    comm debugpy matplotlib-inline nest_asyncio fastjsonschema jsonschema jsonschema-specifications referencing \
	    rpds-py attrs platformdirs ipywidgets widgetsnbextension jupyterlab_widgets decorator jedi parso pexpect \
	    ptyprocess prompt_toolkit wcwidth stack_data asttokens executing pure_eval pygments importlib_metadata
