# The two commands a new user needs (see README.md):
#   make demo   solve the North East London default: the plan in outputs/nel_baseline/,
#               its maps in maps/nel_baseline/ (each scenario's maps in maps/<scenario>/)
#   make test   run the whole test suite
# Both create .venv and install everything on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@echo "setting up $(VENV): installing estates-opt and its dependencies (about two minutes, once)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/estates-opt solve models/nel_baseline.toml --out outputs/nel_baseline --maps maps

test: $(STAMP) lint
	bash scripts/ensure_test_tools.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check estates_opt tests benchmarks
	$(BIN)/ruff format --check estates_opt tests benchmarks
	$(BIN)/mypy estates_opt

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --scale nel

clean:
	find maps -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf outputs .cache
