# Thin wrapper over CMake (STYLE 6.15): no compiler flags, no detection; CMakeLists.txt is the build.
#   make [all]        check dependencies (scripts/setup-deps.sh), configure, build into $(BUILD)
#   make run          build fce-gpu only (not the tests), then train the built-in default into runs/default
#   make test         build, then run every test (ctest); test-cpu / test-gpu select by label
#   make cpu          CPU-only build in build-cpu (-DFCE_CUDA=OFF)
# Variables: BUILD, TYPE (CMake build type), CMAKE_ARGS (extra -D options), JOBS, BENCH_ARGS.
BUILD ?= build
TYPE ?= Release
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)
BENCH_ARGS ?=

.PHONY: all deps configure run test test-cpu test-gpu bench cpu debug asan clean help

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	bash scripts/setup-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) $(CMAKE_ARGS)

run: configure
	cmake --build $(BUILD) -j $(JOBS) --target fce-gpu
	./$(BUILD)/fce-gpu train --out runs/default

test: all
	cd $(BUILD) && ctest --output-on-failure

test-cpu: all
	cd $(BUILD) && ctest --output-on-failure -L cpu

test-gpu: all
	cd $(BUILD) && ctest --output-on-failure -L gpu

bench: all
	@if [ -x $(BUILD)/bench/fce-bench ]; then ./$(BUILD)/bench/fce-bench $(BENCH_ARGS); \
	else echo "bench: $(BUILD)/bench/fce-bench was not built (no bench/ or FCE_BUILD_BENCH=OFF)"; fi

cpu:
	$(MAKE) all BUILD=build-cpu CMAKE_ARGS="-DFCE_CUDA=OFF $(CMAKE_ARGS)"

debug:
	$(MAKE) all BUILD=build-debug TYPE=Debug

asan:
	$(MAKE) all BUILD=build-asan TYPE=Debug CMAKE_ARGS="-DFCE_SANITIZE=address,undefined $(CMAKE_ARGS)"

clean:
	rm -rf $(BUILD)

help:
	@echo "targets: all run test test-cpu test-gpu bench cpu debug asan clean help"
	@echo "variables: BUILD=$(BUILD) TYPE=$(TYPE) CMAKE_ARGS='$(CMAKE_ARGS)' JOBS=$(JOBS)"
	@echo "CPU-only: make cpu && make test BUILD=build-cpu   |   CI: .ci/run"
