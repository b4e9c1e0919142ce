# 学習の流れ / The Training Flow — two commands: `make lab` and `make test`.
# Each one builds .venv from nothing when it is missing, then acts.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# PyTorch build. The default is the CPU wheel; see README for ROCm and CUDA, e.g.
#   make lab TORCH=torch TORCH_INDEX=https://download.pytorch.org/whl/rocm6.4
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=

# `make lab` makes a fresh random token and prints the address with it: authentication stays on
# even where a user's own Jupyter config would switch it off. JupyterLab refuses root unless told.
PORT      ?= 8888
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# The server's root is the repository, so README's contents links work; the lab opens on notebooks/.
LAB_START := lab/tree/notebooks/00_overview.ipynb
LAB_FLAGS := --ServerApp.root_dir=. --LabApp.default_url=/$(LAB_START) \
             --ServerApp.ip=127.0.0.1 $(ROOT_FLAG)

# How `make test` runs the notebooks (make bench times the series the same way): strict nbval, and one
# file per worker process (pytest-xdist --dist loadfile keeps a notebook's cells in order, on one kernel).
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=600
PARALLEL    ?= -n auto --dist loadfile

.PHONY: lab test doctor nav slides handouts figures notebooks bench gpu-check lab-flags test-flags clean-venv
.PHONY: mutate
.PHONY: book

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

lab: $(STAMP)
	@token=$$($(BIN)/python -c "import secrets; print(secrets.token_hex(24))"); \
	echo; echo "  JupyterLab: http://127.0.0.1:$(PORT)/$(LAB_START)?token=$$token"; echo; \
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.port=$(PORT) --ServerApp.port_retries=0 \
	  --IdentityProvider.token=$$token

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m helpers nav --check
	$(BIN)/python -m helpers slides --check
	$(BIN)/python -m pytest tests notebooks $(NBVAL_FLAGS) $(PARALLEL)

doctor: $(STAMP)
	$(BIN)/python -m helpers doctor

nav: $(STAMP)
	$(BIN)/python -m helpers nav

# Slide types for presenting with RISE (`pip install -e ".[slides]"`), set by rule on every cell.
slides: $(STAMP)
	$(BIN)/python -m helpers slides

# Japanese-only and English-only copies of the notebooks, run in that language, each also as a PDF
# (printed by Chromium): build/handouts/.
handouts: $(VENV)/.installed-book
	$(BIN)/python -m helpers handout --lang ja --execute
	$(BIN)/python -m helpers handout --lang en --execute
	$(BIN)/python -m helpers book --handout-pdfs build/handouts

# Re-run every notebook from a fresh kernel and save its outputs (after editing one), then nav and slides.
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 notebooks/[0-9][0-9]_*.ipynb
	$(BIN)/python -m helpers nav
	$(BIN)/python -m helpers slides

# Every committed figure on one page (build/figures/index.html), for a teacher or a reviewer.
figures: $(STAMP)
	$(BIN)/python -m helpers figures

# Speed and memory of the series (run times, peak RSS, slider latency, loop overhead, training vs
# inference): printed, then written to build/bench/results.json and docs/results.md.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# On a machine with a GPU (ROCm or CUDA build of PyTorch): unit tests and every notebook on the
# "cuda" device, plus matrix-product GFLOP/s; written to docs/results.md.
gpu-check: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py

# Print the flags `make lab` passes, so a test can start the same server.
lab-flags:
	@echo $(LAB_FLAGS)

# Print how `make test` runs the notebooks, so make bench can time the series the same way.
test-flags:
	@echo $(NBVAL_FLAGS) $(PARALLEL)

# Mutation testing (mutmut, configured in pyproject.toml): small bugs planted one at a time in the engine,
# the checkers' feedback and the exercise checkers, each run against the fast unit tests that call the
# changed function. Prints the score per module and every surviving mutant; writes the scores into
# docs/results.md. Slow (tens of minutes on 2 cores), so not part of `make test`.
# A part only: make mutate MUTATE_SCOPE="engine feedback"
MUTATE_SCOPE ?= engine feedback checkers
mutate: $(VENV)/.mutate-installed
	$(BIN)/python benchmarks/mutate.py --scope $(MUTATE_SCOPE)

$(VENV)/.mutate-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,mutate]"
	touch $@

clean-venv:
	rm -rf $(VENV)

# --- A class on one server: JupyterHub on 127.0.0.1 (README "A class on one server") ---------------
# `make hub` lets the users of deploy/users.txt (or CLASS_USERS) log in with one class password
# (CLASS_PASSWORD, else a new one, printed); each gets the series in a home of its own, this .venv as
# the kernel. hub-deps installs JupyterHub (pip) and configurable-http-proxy (npm, into .venv/node).
# `make class-bench` times N students through the hub (CLASS_BENCH_FLAGS="--students 1 5").
# `make ja` adds JupyterLab's Japanese menus, used by `make lab` and the hub from then on.
.PHONY: hub hub-deps class-bench ja

HUB_STAMP := $(VENV)/.hub-installed
CHP       := $(VENV)/node/node_modules/.bin/configurable-http-proxy
JA_STAMP  := $(VENV)/.ja-installed
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

$(HUB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[hub]"
	touch $@

$(CHP):
	@command -v npm >/dev/null || { echo "npm がありません。Node.js を入れてください(例: apt-get install nodejs npm)。"; \
	  echo "npm is missing: install Node.js (e.g. apt-get install nodejs npm)."; exit 1; }
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node configurable-http-proxy@5

hub-deps: $(HUB_STAMP) $(CHP)

hub: hub-deps
	$(BIN)/python deploy/classhub.py

class-bench: hub-deps
	$(BIN)/python benchmarks/class_bench.py $(CLASS_BENCH_FLAGS)

$(JA_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[ja]"
	mkdir -p $(dir $(LAB_OVERRIDES))
	test -f $(LAB_OVERRIDES) || echo '{"@jupyterlab/translation-extension:plugin": {"locale": "ja_JP"}}' > $(LAB_OVERRIDES)
	touch $@

ja: $(JA_STAMP)

# The series as a static site in three editions (bilingual, 日本語, English), from the committed
# notebooks without running them; opens from disk, loads nothing from the network: build/book/.
BOOK_STAMP := $(VENV)/.installed-book
$(BOOK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,book]"
	touch $@

book: $(BOOK_STAMP)
	$(BIN)/python -m helpers book
