# Every target bootstraps its own virtual environment: a fresh machine needs
# only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The stamps record what was installed; editing pyproject.toml reinstalls.
APP_STAMP  := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test
# The build tools, pinned: `python -m venv` brings whatever the interpreter bundles
# (pip 23.2.1 and setuptools 65.5.0 on 3.11.7), and an unpinned upgrade is whatever PyPI
# serves that day. Bump deliberately; the stamp's name carries the versions, so a bump
# re-pins an existing .venv too.
PIP_VERSION        := 26.3
SETUPTOOLS_VERSION := 84.2.1
TOOLS_STAMP := $(VENV)/.tools-pip$(PIP_VERSION)-setuptools$(SETUPTOOLS_VERSION)

.PHONY: demo test bench memory soak lint clean tmux

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(TOOLS_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'pip==$(PIP_VERSION)' \
		'setuptools==$(SETUPTOOLS_VERSION)'
	rm -f $(VENV)/.tools-*
	touch $@

$(APP_STAMP): pyproject.toml $(TOOLS_STAMP)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(TOOLS_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(APP_STAMP)

demo: $(APP_STAMP)
	$(BIN)/ibterm demo

# The real-terminal test needs tmux: install it where it is missing and we may (Debian, as
# root, which CI is); elsewhere that one test is skipped, and pytest says so.
tmux:
	@command -v tmux >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null 2>&1 \
		|| echo "tmux not installed: the real-terminal test will be skipped"; }

# The static checks first: they take seconds, the suite minutes.
test: $(TEST_STAMP) tmux lint
	$(BIN)/python -m pytest -q

bench: $(TEST_STAMP) tmux
	$(BIN)/python bench/ticks.py
	$(BIN)/python bench/orders.py
	$(BIN)/python bench/risk.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/chart.py
	$(BIN)/python bench/chain.py

# The app's RSS over ten minutes with 100 symbols ticking and the chain open (needs tmux).
memory: $(TEST_STAMP) tmux
	$(BIN)/python bench/memory.py --minutes $${MEMORY_MINUTES:-10}

# Ten minutes under a fault schedule (a 30-second version runs in make test).
soak: $(TEST_STAMP)
	$(BIN)/python bench/soak.py --duration $${SOAK_SECONDS:-600} $${SOAK_ARGS:-}

# The import contracts and mypy's file list are in pyproject.toml. The import graph builds
# in well under a second, so lint-imports keeps no cache folder in the tree.
lint: $(TEST_STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache
