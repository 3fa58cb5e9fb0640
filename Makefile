# Developer entry points. Every target is safe to re-run.
#
#   make bootstrap   system packages, .venv, Kafka jars (scripts/bootstrap.sh)
#   make up / down   start / stop the local Kafka and Redis (data kept in .data/)
#   make test        bootstrap, lint, up, then the whole pytest suite
#   make demo        bootstrap, up, then the end-to-end demo
#   make lint        ruff and mypy

PYTHON := .venv/bin/python
# `quorum infra up` also creates the topics; `python -m streams.infra` is the bare fallback.
INFRA := .venv/bin/quorum infra

.PHONY: bootstrap up down status test demo lint

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

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy
