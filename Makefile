# Two commands for users: `make demo` and `make test`. Each creates .venv when
# it is missing, installs the pinned CPU torch and the project, then runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS := --disable-pip-version-check -q

.PHONY: demo test bench docs lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt requirements/torch.txt
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -r requirements/torch.txt
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m torchweave.cli.demo

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src/

test: $(STAMP) lint typecheck
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m bench

# The documentation site (mkdocs-material); runs the gallery examples, fails on
# broken links, warnings and failing examples.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
