# One obvious command each: make test, make compare, make lint, make bench.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# racelab's own modules compiled: where PYTHONDONTWRITEBYTECODE is set, as on the machine
# these were measured on, no process writes a .pyc, and each would compile every module it
# imports (docs/benchmarks.md, "make test's time"). Later runs recompile only what changed.
COMPILE := $(BIN)/python -m compileall -q -j 0 -x '/\.' .

.PHONY: setup system test compare lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml examples/express/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv installs the same packages from PyPI as pip does, in 6 s instead of 24 on a fresh
	# clone (docs/benchmarks.md, "make test's time"), compiled as pip compiles them: where
	# PYTHONDONTWRITEBYTECODE is set, nothing else would, and every process would compile
	# each module it imports. pip, which reads the machine's pip configuration, installs
	# them if uv cannot.
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]' \
	  || $(BIN)/python -m pip install --quiet -e '.[test]'
	# The Express example's packages, exactly as its lockfile says, with the venv's Node.
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/npm ci --prefix examples/express --no-audit --no-fund --loglevel=error
	touch $(STAMP)

# Real components the tests start (Chromium) come from the system package manager.
system:
	scripts/system-packages

# Four processes on two cores: most of a test's time is a server starting, a load
# running or a step waiting on a lock, so four overlap well, and every race test must hold
# on a busy machine anyway. Each file stays in one process (loadfile), so a module's
# expensive fixture (a compare run) is made once; the longest files start first
# (tests/conftest.py's order: xdist would otherwise hand out the files with the most tests
# first, and the long lab runs last). A fresh clone's run: docs/benchmarks.md.
test: setup system
	$(COMPILE)
	$(BIN)/python -m pytest -q -n 4 --dist loadfile --no-loadscope-reorder

compare: setup
	$(BIN)/racelab compare

bench: setup
	$(BIN)/python -m benchmarks

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/vulture
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache
