# ServiceWatch build, run and test plumbing.
#
#   make venv    .venv with the project and its test extras (re-installs when pyproject.toml changes)
#   make system  Debian packages the app and tests need (chromium, CJK fonts, poppler)
#   make demo    data/servicewatch.duckdb with the seeded demo data set and a fitted churn model
#   make run     the dashboard on http://127.0.0.1:8501 (PORT=8600 for another port)
#   make test    ruff + pytest against DuckDB, PostgreSQL, MariaDB, Chromium and a reduced Spark set (PYTEST_ARGS=...)
#   make test-spark  the full Spark equivalence set on a local two-worker cluster (started and stopped)
#   make lint    ruff only
#   make bench   benchmarks (bench/run.py, PostgreSQL and MariaDB at L, churn, import, browser timings, alerts, text keys, forecasts, outlets, the voice of the customer and 20 concurrent sessions at L)
#   make bench-xl  the streamed demo at 10 million customers: time per phase, memory peaks, views (about 15 minutes on a quiet 2-core machine; CUSTOMERS=...)
#   make clean   caches and the demo database; `make distclean` also removes .venv

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python3
STAMP := $(VENV)/.installed
DEMO_DB := data/servicewatch.duckdb
PYTEST_ARGS ?=
PORT ?= 8501
APT_PACKAGES := chromium fonts-noto-cjk poppler-utils openjdk-17-jre-headless

# A .venv whose scripts point at another folder (a copy or a fresh clone of a tree that had one)
# would run the other folder's code: such a venv, or a missing or broken one, is built anew.
VENV_PIP_BIN := $(dir $(shell sed -n '1s/^\#!//p' $(VENV)/bin/pip 2>/dev/null))
ifneq ($(VENV_PIP_BIN),$(CURDIR)/$(VENV)/bin/)
VENV_REBUILD := FORCE
endif

.PHONY: help venv system demo run test test-spark services lint bench bench-xl clean distclean FORCE

help:
	@sed -n '3,13s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(STAMP): pyproject.toml $(VENV_REBUILD)
	@if [ -n "$(VENV_REBUILD)" ] || ! $(PY) -c '' 2>/dev/null; then \
	  echo "creating $(VENV) with $$($(PYTHON) --version)"; \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(CURDIR)/$(VENV) && \
	  $(CURDIR)/$(PY) -m pip install --quiet --upgrade pip; \
	fi
	$(CURDIR)/$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

system:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make system: not root (or no apt-get); please install:$$missing"; exit 0; \
	fi; \
	echo "installing:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing

demo: $(DEMO_DB)

$(DEMO_DB): | venv
	mkdir -p $(dir $(DEMO_DB))
	$(VENV)/bin/servicewatch demo --db duckdb:///$(DEMO_DB) --customers 20000 --seed 7 \
	  && $(VENV)/bin/servicewatch churn fit --db duckdb:///$(DEMO_DB) \
	  || { rm -f $(DEMO_DB) $(DEMO_DB).wal; exit 1; }

# With no users file configured, `make run` serves the demo database in the announced demo mode
# (signed in as the demo administrator, with a banner); set SERVICEWATCH_USERS for real sign-in.
run: venv system demo
	@if [ -z "$$SERVICEWATCH_USERS" ] && [ -z "$$SERVICEWATCH_AUTH" ]; then export SERVICEWATCH_AUTH=demo; fi; \
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true

# PostgreSQL and MariaDB are started before a session on this kind of machine; start them if not.
services:
	@if ! command -v pg_isready >/dev/null; then echo "no PostgreSQL client tools here"; \
	elif ! pg_isready -q -h 127.0.0.1; then \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	  for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done; \
	fi
	@if ! command -v mysqladmin >/dev/null; then echo "no MariaDB client tools here"; \
	elif ! mysqladmin -h127.0.0.1 -uroot ping >/dev/null 2>&1; then \
	  echo "starting MariaDB"; \
	  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null; \
	  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true; \
	  for i in $$(seq 30); do mysqladmin -h127.0.0.1 -uroot ping >/dev/null 2>&1 && break; sleep 1; done; \
	fi

test: venv system services
	$(VENV)/bin/ruff check .
	$(PY) -m pytest --durations=25 $(PYTEST_ARGS)

# The session fixture starts the cluster (tests/conftest.py: spark_cluster) and stops every process it
# started; the check after pytest fails the target if a process of a test cluster is still running.
test-spark: venv system
	$(VENV)/bin/ruff check src/metrics/backends/spark/dialect.py src/metrics/backends/spark/load.py src/metrics/backends/spark/cluster.py src/metrics/backends/spark/rewrite.py tests/spark/test_spark_*.py
	SERVICEWATCH_SPARK_FULL=1 $(PY) -m pytest tests/spark/test_spark_dialect.py tests/spark/test_spark_engine.py tests/spark/test_spark_churn.py $(PYTEST_ARGS); \
	  rc=$$?; left=$$(grep -l -a '[s]w-spark-test-' /proc/[0-9]*/cmdline 2>/dev/null | wc -l); \
	  if [ "$$left" != 0 ]; then echo "test-spark: $$left Spark test processes still running"; exit 1; fi; exit $$rc

lint: venv
	$(VENV)/bin/ruff check .

bench: venv system
	$(PY) -m bench.run
	$(PY) -m bench.cubes
	$(PY) -m bench.servers --scale L
	$(PY) -m bench.churn
	$(PY) -m bench.importing
	$(PY) -m bench.spark --scale S
	$(PY) -m bench.browser
	$(PY) -m bench.first_load
	$(PY) -m bench.server_cpu
	$(PY) -m bench.alerts
	$(PY) -m bench.drivers
	$(PY) -m bench.keys
	$(PY) -m bench.explain
	$(PY) -m bench.forecast
	$(PY) -m bench.outlets
	$(PY) -m bench.voc
	$(PY) -m bench.sessions

CUSTOMERS ?= 10000000
bench-xl: venv
	nice -n 10 $(PY) -m bench.xl --customers $(CUSTOMERS)

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis build $(DEMO_DB) $(DEMO_DB).wal
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
