# delayq: the two commands are `make run` and `make test` (README.md).
BUILD      ?= build
ASAN_BUILD ?= build-asan
CMAKE_ARGS ?=
# Share compiled objects between build trees (and clean clones) on this machine.
export CCACHE_NOHASHDIR := true
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all bootstrap build build-asan run test test-release test-asan bench format clean

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

# Serves on 127.0.0.1:7700 with the embedded store in ./data (override: make run ARGS=...).
run: build
	./$(BUILD)/src/delayq serve $(ARGS)

# The whole suite, twice: the release build, then the AddressSanitizer+UBSan build.
test: test-release test-asan

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure --timeout 300

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure --timeout 600

# Benchmarks (not tests): installs the references, runs every scenario, prints a table.
bench: build
	@bash scripts/bootstrap.sh bench
	bash bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
