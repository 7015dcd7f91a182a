# credsd — build, run and test. `make run` starts a dev daemon; `make test` runs the whole suite.
SWIFT ?= swift
DEV := $(CURDIR)/.dev
APT_PACKAGES := libsodium-dev liblmdb-dev pkg-config postgresql
PREFIX ?= /usr/local

.PHONY: deps client-tools build release run cluster-demo test lint format install bench bench-budgets bench-cluster crash-test fuzz soak clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# A dev daemon on sockets under .dev/ with a generated master key and a demo built-in Gemini key.
run: release
	@mkdir -p $(DEV)/builtin
	@[ -f $(DEV)/master.key ] || .build/release/credsd keygen --out $(DEV)/master.key
	@[ -f $(DEV)/builtin/gemini.key ] || (umask 077; echo "AIzaDemoPlatformKeyNotReal0000000000000" > $(DEV)/builtin/gemini.key)
	@printf '%s\n' \
	  'dataDir = "$(DEV)/data"' \
	  '[sockets]' \
	  'resolve = "$(DEV)/resolve.sock"' \
	  'admin = "$(DEV)/admin.sock"' \
	  '[encryption]' \
	  'keyFiles = ["$(DEV)/master.key"]' \
	  '[builtin]' \
	  'gemini = "$(DEV)/builtin/gemini.key"' > $(DEV)/credsd.toml
	@echo "credsd dev daemon: in another shell run"
	@echo "  export CREDSD_ADMIN_SOCKET=$(DEV)/admin.sock CREDSD_RESOLVE_SOCKET=$(DEV)/resolve.sock"
	@echo "  and follow 'Try it' in README.md. Ctrl-C stops the daemon."
	exec .build/release/credsd serve --config $(DEV)/credsd.toml

# Three credsd following a PostgreSQL under .dev/cluster (README "Cluster mode: the demo"); Ctrl-C stops all.
cluster-demo: release
	python3 tools/cluster_demo.py

# The client libraries' tests (clients/) need python3 and node: Debian's python3 and nodejs do (installed when
# missing and make runs as root).
client-tools:
	@if ! command -v python3 >/dev/null || ! command -v node >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 nodejs; \
	  else \
	    echo "make test needs python3 and node; run: sudo apt-get install -y python3 nodejs"; exit 1; \
	  fi; \
	fi

test: deps client-tools
	$(SWIFT) build
	$(SWIFT) test
	CREDSD_BIN=$(CURDIR)/.build/debug/credsd python3 -m unittest discover -s clients/python/tests -t clients/python
	CREDSD_BIN=$(CURDIR)/.build/debug/credsd node --test clients/node/test/

# swift format with the checked-in .swift-format (4 spaces, 120 columns); CI fails on any finding.
lint:
	$(SWIFT) format lint --strict --configuration .swift-format -r Sources Tests

format:
	$(SWIFT) format format -i --configuration .swift-format -r Sources Tests

# credsd against a raw epoll baseline, a bare NIO server and Redis in the same run (bench/); BENCH_SECONDS per run,
# default 3. Redis (a Debian package) is installed when missing and make runs as root.
bench: release
	@command -v redis-server >/dev/null || [ "$$(id -u)" != 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server)
	python3 bench/bench.py
	python3 bench/budgets.py
	python3 bench/cluster.py

# Budgets alone: built-in resolves with and without a budget, alternating (issue 15's 10 % target).
bench-budgets: release
	python3 bench/budgets.py

# Cluster mode alone: three credsd on a temporary PostgreSQL (propagation, resync of 100,000, resolve vs one host).
bench-cluster: release
	python3 bench/cluster.py

# kill -9 the daemon at random moments under write load; CRASH_ITERATIONS (default 200).
CRASH_ITERATIONS ?= 200
crash-test: deps
	$(SWIFT) build
	CRASH_ITERATIONS=$(CRASH_ITERATIONS) $(SWIFT) test --filter CrashDurabilityTests

# libFuzzer (with AddressSanitizer) over the frame decoder, the request parser, credential validation, every method
# of both sockets against a seeded temporary store, and OAuth provider replies; FUZZ_RUNS executions per target
# (default 1,000,000), FUZZ_TARGETS to pick some; seeds in fuzz/corpus/, which make test replays.
FUZZ_RUNS ?= 1000000
fuzz: deps
	$(SWIFT) build -c release --build-path .build-fuzz --product credsd-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	FUZZ_RUNS=$(FUZZ_RUNS) fuzz/run.sh

# 64 connections of mixed resolve and durable upsert for SOAK_SECONDS (default 600): errors and RSS growth.
SOAK_SECONDS ?= 600
soak: release
	SOAK_SECONDS=$(SOAK_SECONDS) python3 bench/soak.py

# Installs the binaries (with the catalog bundle they read), the systemd units and the docs.
install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/credsd
	install -m 0755 .build/release/credsd .build/release/credsctl $(DESTDIR)$(PREFIX)/bin/
	rm -rf $(DESTDIR)$(PREFIX)/bin/credsd_CredsCatalog.resources
	cp -R .build/release/credsd_CredsCatalog.resources $(DESTDIR)$(PREFIX)/bin/
	sed 's#/usr/local/bin/credsd#$(PREFIX)/bin/credsd#; s#/usr/local/share/doc#$(PREFIX)/share/doc#' \
	  systemd/credsd.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/credsd.service
	for unit in credsd-resolve.socket credsd-admin.socket; do \
	  sed 's#/usr/local/share/doc#$(PREFIX)/share/doc#' systemd/$$unit > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$unit; \
	done
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system/credsd.socket
	cd $(DESTDIR)$(PREFIX)/lib/systemd/system && chmod 0644 credsd.service credsd-resolve.socket credsd-admin.socket
	cp -R README.md proto examples $(DESTDIR)$(PREFIX)/share/doc/credsd/

clean:
	rm -rf .build $(DEV)
