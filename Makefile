# The two commands of the README: `make lab` and `make test` (and `make book`, the static site).
# Both create .venv on first use (pip upgraded first), install gnnedu with its dev extra, and make
# sure the datasets are available. A later run reuses .venv and starts in seconds.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.gnnedu-installed
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: setup data lab test lint book clean

setup: $(STAMP)

# Reinstall only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

data: setup
	$(BIN)/gnnedu data

lab: data
	@echo "Starting JupyterLab on notebooks/; open the http://127.0.0.1:... URL it prints below."
	$(BIN)/jupyter lab --no-browser --ServerApp.root_dir=notebooks $(ROOT_FLAG)

# Unit tests, widget logic and the browser check (tests/), then nbval over every notebook.
test: data
	$(BIN)/python -m pytest $(NBVAL) tests notebooks

# The static book in _build/book/html from the committed outputs (about 20 s); EXECUTE=1 runs a
# copy of every notebook first (minutes, needs the data). Any Sphinx warning fails the build.
EXECUTE ?=
book: setup $(if $(EXECUTE),data)
	$(BIN)/python -m gnnedu.book build $(if $(filter-out 0,$(EXECUTE)),--execute)

lint: setup
	$(BIN)/ruff check gnnedu tests notebooks/solutions benchmarks

clean:
	rm -rf $(VENV) test-artifacts .gnnedu-cache _build
