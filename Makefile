# pare: every target installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
PIP = $(PYTHON) -m pip install -q
export OMP_NUM_THREADS ?= 1     # one torch thread per process (parallel runs on few cores)
export HF_HUB_OFFLINE ?= 1      # the demo, tests and notebooks need no network

.PHONY: install demo test test-fast notebooks bench train-offline eval-offline test-floors test-colab \
	colab-constraints colab wheel gpu-check gpu-wheels

install:
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .

demo: install  ## draw a picture with the offline model
	$(PYTHON) -m pare "an evergreen tree on a blue background" --model pare/models/tiny-sd2 --out out/demo.png

test: install  ## every test, and every notebook run top to bottom (nbval)
	$(PYTHON) -m pytest -q tests notebooks --nbval-lax -p no:cacheprovider

test-fast: install  ## the module's tests only
	$(PYTHON) -m pytest -q tests -p no:cacheprovider

notebooks: install  ## re-execute every notebook in place (after changing pare or a notebook)
	$(PYTHON) tools/notebooks.py
	for nb in notebooks/*.ipynb; do jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done

bench: install  ## pare against diffusers, side by side; writes BENCHMARKS.md
	$(PYTHON) bench/bench.py

train-offline: install  ## train the three offline models into out/train (resumes; a GPU: minutes); then --install copies them
	$(PYTHON) -m pare.train out/train

eval-offline: install  ## measure the shipped offline models on what SD shows (fidelity, guidance, noise, img2img, attention, speed)
	$(PYTHON) tools/eval_offline.py pare/models/tiny-sd2 pare/models/tiny-sd1 pare/models/tiny-flow

test-floors:  ## pare under its declared floors (constraints/floors.txt) in a fresh venv: .ci/run's floors step
	bash .ci/run floors

test-colab:  ## pare installed as the notebooks' setup cell does, under Colab's versions; every notebook run
	bash .ci/run colab

colab-constraints:  ## refresh constraints/colab.txt from googlecolab/backend-info (BACKEND_INFO=a clone on disk)
	$(PYTHON) constraints/refresh.py $(BACKEND_INFO)

colab:  ## make colab REPO=owner/name: the repository's real home; re-stamps every badge and setup cell
	@test -n "$(REPO)" || { echo "usage: make colab REPO=owner/name (the GitHub repository the notebooks live in)"; exit 2; }
	$(PYTHON) tools/notebooks.py --repo $(REPO)
	@echo "Now re-execute the notebooks (make notebooks), commit, and push to github.com/$(REPO): the badges resolve once it is there."

wheel:  ## out/pare-*.whl, with the offline models inside: for Colab without a repository, `%pip install pare-*.whl`
	rm -rf build out/pare-*.whl
	$(PYTHON) -m pip wheel -q --no-deps --no-build-isolation -w out .
	rm -rf build
	$(PYTHON) -c "import glob, zipfile; w = glob.glob('out/pare-*.whl')[0]; n = [f for f in zipfile.ZipFile(w).namelist() \
	    if f.startswith('pare/models/') and f.endswith('.safetensors')]; assert len(n) >= 6, n; print(w, 'holds', len(n), 'weight files')"

gpu-check:  ## the GPU path measured (on a lent GPU, <= 8 min): writes BENCHMARKS.md and README; DRY=1: a CPU rehearsal
	$(PYTHON) tools/gpu_check.py $(if $(DRY),--dry-run)

gpu-wheels:  ## .whl/: what gpu-check needs on the GPU machine beyond its image (Python 3.12); see tools/gpu_check.py
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
	    diffusers==0.42.1 nbclient nbformat ipykernel ipython jupyter_client jupyter_core traitlets pyzmq tornado \
	    comm debugpy matplotlib-inline nest_asyncio fastjsonschema jsonschema jsonschema-specifications referencing \
	    rpds-py attrs platformdirs ipywidgets widgetsnbextension jupyterlab_widgets decorator jedi parso pexpect \
	    ptyprocess prompt_toolkit wcwidth stack_data asttokens executing pure_eval pygments importlib_metadata
