# Developer entry points. Every target is safe to re-run.
#
#   make bootstrap   system packages, .venv, Kafka jars (scripts/bootstrap.sh)
#   make up / down   start / stop the local Kafka and Redis (data kept in .data/)
#   make test        bootstrap, lint, up, then the whole pytest suite
#   make demo        bootstrap, up, then the end-to-end demo
#   make lint        ruff and mypy
#   make native      compile the hot path with mypyc (bootstrap does when a source changed)
#   make pure        remove that build: everything runs as Python

PYTHON := .venv/bin/python
# `quorum infra up` also creates the topics; `python -m streams.infra` is the bare fallback.
INFRA := .venv/bin/quorum infra

.PHONY: bootstrap up down status test demo lint native pure

bootstrap:
	scripts/bootstrap.sh

up:
	$(INFRA) up

down:
	$(INFRA) down

status:
	$(INFRA) status

test: bootstrap lint up
	$(PYTHON) -m pytest -q

demo: bootstrap up
	.venv/bin/quorum demo

native:
	$(PYTHON) -m streams.native build

pure:
	$(PYTHON) -m streams.native remove

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy
