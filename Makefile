# The two set-up commands of the README: `make demo` (the main job) and `make test` (the test suite).
PYTHON ?= python3
VENV := .venv
PACKAGES := -e 'packages/score-core[plot]' -e 'packages/score-cli[demo]' -e 'packages/score-vision[pixel]' \
            -e packages/score-music -e packages/score-text -e examples/score-plugin-example \
            -e packages/score-studio

.PHONY: demo test install lint

demo: $(VENV)/.installed
	$(VENV)/bin/score run "$$($(VENV)/bin/score sample-clip bikes)" -o out --overwrite

install: $(VENV)/.installed

$(VENV)/.installed: packages/*/pyproject.toml examples/*/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q $(PACKAGES)
	touch $@

test:
	$(PYTHON) -m venv .tox-runner
	.tox-runner/bin/pip install -q 'tox>=4.11'
	.tox-runner/bin/tox run --recreate

lint:
	$(PYTHON) -m venv .tox-runner
	.tox-runner/bin/pip install -q 'tox>=4.11'
	.tox-runner/bin/tox run -e lint
