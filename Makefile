# delayq: the two commands are `make run` and `make test` (README.md).
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz_seed_api fuzz_v1_api fuzz_record_codec
CMAKE_ARGS ?=
# Share compiled objects between build trees (and clean clones) on this machine.
export CCACHE_NOHASHDIR := true
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all bootstrap build build-asan build-tsan run test test-release test-asan test-tsan test-tsan-quick soak bench fuzz format clean \
  screenshot package

all: build

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD)

build-asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDELAYQ_SANITIZE=ON \
	  -DDELAYQ_BENCH=OFF $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD)

build-tsan: bootstrap
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDELAYQ_TSAN=ON \
	  -DDELAYQ_BENCH=OFF $(CMAKE_ARGS) >/dev/null
	@cmake --build $(TSAN_BUILD)

# Serves on 127.0.0.1:7700 with the embedded store in ./data (override: make run ARGS=...).
run: build
	./$(BUILD)/src/delayq serve $(ARGS)

# The Debian package of the release build: $(BUILD)/packages/delayq_<version>_<arch>.deb
# (packaging/README.md; `make test` builds and installs it in tests/package).
package: build
	@cmake --build $(BUILD) --target deb

# The whole suite, three times: the release build, the AddressSanitizer+UBSan build, the
# ThreadSanitizer build (about 4.5 min of tests on 2 cores; a cold CI run stays near 40 min).
test: test-release test-asan test-tsan

# Tests run in parallel; those that must not overlap hold a CTest RESOURCE_LOCK, and the
# benchmark smoke run counts as two (PROCESSORS). Most release tests wait on servers, timers
# and sockets rather than compute, so the release build runs three per core (RELEASE_TEST_JOBS);
# the sanitizer builds, several times slower per test, one per core (TEST_JOBS). Each run ends
# with its ten slowest tests.
TEST_JOBS ?= $(shell nproc)
RELEASE_TEST_JOBS ?= $(shell echo $$(( $$(nproc) * 3 )))
test-release: build
	@status=0; ctest --test-dir $(BUILD) --output-on-failure --timeout 300 -j$(RELEASE_TEST_JOBS) \
	  --output-junit $(CURDIR)/$(BUILD)/ctest-junit.xml || status=$$?; \
	  python3 scripts/slowest_tests.py $(BUILD)/ctest-junit.xml; exit $$status

test-asan: build-asan
	@status=0; ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure --timeout 600 -j$(TEST_JOBS) \
	  --output-junit $(CURDIR)/$(ASAN_BUILD)/ctest-junit.xml || status=$$?; \
	  python3 scripts/slowest_tests.py $(ASAN_BUILD)/ctest-junit.xml; exit $$status

# ThreadSanitizer: the tests and every delayq they start write their reports to
# $(TSAN_BUILD)/tsan/; any report fails the target, also one from a server whose test passed.
# TSAN_TESTS (a ctest -R regex) picks the tests; the default is the whole suite.
TSAN_TESTS ?= .
TSAN_ENV = TSAN_OPTIONS="log_path=$(CURDIR)/$(TSAN_BUILD)/tsan/report second_deadlock_stack=1 \
  suppressions=$(CURDIR)/tests/tsan.supp"
TSAN_CHECK = if ls $(TSAN_BUILD)/tsan/report* >/dev/null 2>&1; then \
  cat $(TSAN_BUILD)/tsan/report*; echo "ThreadSanitizer reports above"; exit 1; fi
test-tsan: build-tsan
	@rm -rf $(TSAN_BUILD)/tsan && mkdir -p $(TSAN_BUILD)/tsan
	$(TSAN_ENV) ctest --test-dir $(TSAN_BUILD) --output-on-failure --timeout 900 -j$(TEST_JOBS) \
	  -R '$(TSAN_TESTS)'
	@$(TSAN_CHECK)

# A quicker part of test-tsan, for a change to the threads: every unit test, and the
# integration tests whose servers run many threads at once under load (callbacks, v1 pulls
# and leases, pipelining, disk full, restarts, metrics, the config centre, the crash driver).
TSAN_THREADED ?= ^(Callbacks|SeedCallbacks|V1Api|Pipelining|CrashDriver|Filesystems/DiskFull|ConfigCentre|Metrics|TopicMetrics|RestartSafety)\.
test-tsan-quick: build-tsan
	@rm -rf $(TSAN_BUILD)/tsan && mkdir -p $(TSAN_BUILD)/tsan
	$(TSAN_ENV) ctest --test-dir $(TSAN_BUILD) --output-on-failure --timeout 900 -j2 -L unit
	$(TSAN_ENV) ctest --test-dir $(TSAN_BUILD) --output-on-failure --timeout 900 -j2 \
	  -R '$(TSAN_THREADED)'
	@$(TSAN_CHECK)

# Soaks: the crash driver (tests/crash) for ROUNDS rounds (default 50) of mixed load, each
# ended by a SIGKILL, on one data directory (`make test` runs 5 rounds); then the resource soak
# (tests/soak) for SOAK_SECONDS (default 1800) of mixed load on one server, sampling RSS, open
# files, threads and disk every 10 s (`make test` runs 16 s, sampled every second). SOAK_ONLY=crash|resources runs one.
SOAK_ONLY ?=
soak: build
	@if [ "$(SOAK_ONLY)" != resources ]; then \
	  DELAYQ_CRASH_ROUNDS=$${ROUNDS:-50} ./$(BUILD)/tests/crash/crash_driver || exit 1; fi
	@if [ "$(SOAK_ONLY)" != crash ]; then \
	  DELAYQ_SOAK_SECONDS=$${SOAK_SECONDS:-1800} ./$(BUILD)/tests/soak/soak_driver || exit 1; fi

# Benchmarks (not tests): installs the references, runs every section of bench/scenarios.toml,
# writes bench/results/<date>-<commit>.json and prints the tables (BENCH_ARGS: e.g. --only adds).
bench: build
	@bash scripts/bootstrap.sh bench
	/usr/bin/python3 bench/run.py $(BUILD) $(BENCH_ARGS)

# Fuzzing (not a test; fuzz/README.md): clang++ + libFuzzer build in $(FUZZ_BUILD), then each
# target for FUZZ_SECONDS on fuzz/corpus/<target>. A crash input is kept in fuzz/corpus as a
# regression, which `make test` replays from then on.
fuzz:
	@bash scripts/bootstrap.sh fuzz
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DDELAYQ_FUZZ=ON -DDELAYQ_TESTS=OFF -DDELAYQ_BENCH=OFF \
	  $(CMAKE_ARGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) --target $(FUZZ_TARGETS)
	bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Regenerates docs/dashboard.png (the overview) and docs/dashboard-topic.png (a topic's page):
# delayq with sample tasks, rendered by headless Chromium.
screenshot: build
	@bash tests/browser/setup.sh
	node tests/browser/screenshot.mjs $(BUILD)/src/delayq docs/dashboard.png docs/dashboard-topic.png

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
