# The two set-up commands of the README:
#   make demo   installs everything, starts Kafka, the worker and the API, ingests the sample
#               wire articles and prints the story pages (then `make stop`)
#   make test   installs everything and runs the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup stop lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	bash scripts/setup.sh "$(PYTHON)" "$(VENV)"
	touch $(STAMP)

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

stop:
	bash scripts/stop.sh

lint: setup
	$(BIN)/ruff check services tests
	$(BIN)/mypy services

clean: stop
	rm -rf var out
