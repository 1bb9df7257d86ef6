# Thin wrapper over CMake (STYLE 6.15): no compiler flags, no detection; CMakeLists.txt is the build.
#   make [all]        check dependencies (scripts/setup-deps.sh), configure, build into $(BUILD)
#   make run          build fce-gpu only (not the tests) in $(RUN_BUILD), for the GPUs this machine has
#                     (none: the CPU backend only, so no CUDA is compiled), quietly; then train the
#                     built-in default into runs/default (--force: a rerun replaces the last one)
#   make test         build, then run every test (ctest); test-cpu / test-gpu select by label
#   make cpu          CPU-only build in build-cpu (-DFCE_CUDA=OFF)
# Variables: BUILD, TYPE (CMake build type), CMAKE_ARGS (extra -D options), JOBS, BENCH_ARGS.
BUILD ?= build
TYPE ?= Release
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)
BENCH_ARGS ?=
RUN_BUILD ?= build-run
# The compute capability of every GPU present, as CMake CUDA architectures ("90;80"); empty when
# there is none (or no driver), and then `make run` builds without CUDA.
GPU_ARCHS := $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d ' .' | sort -u | paste -sd';' -)

.PHONY: all deps configure run test test-cpu test-gpu bench cpu debug asan clean help

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@bash scripts/setup-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) $(CMAKE_ARGS)

run: deps
	@mkdir -p $(RUN_BUILD)
	@if [ -n "$(GPU_ARCHS)" ]; then echo "make run: building fce-gpu for the GPU(s) here (sm_$(GPU_ARCHS)) in $(RUN_BUILD)"; \
	  flags="-DFCE_CUDA=AUTO -DFCE_CUDA_ARCHS=$(GPU_ARCHS)"; \
	else echo "make run: no GPU here: building the CPU backend only in $(RUN_BUILD)"; flags="-DFCE_CUDA=OFF"; fi; \
	cmake -S . -B $(RUN_BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) -DFCE_BUILD_TESTS=OFF -DFCE_BUILD_BENCH=OFF \
	  $$flags $(CMAKE_ARGS) >$(RUN_BUILD)/configure.log 2>&1 || { cat $(RUN_BUILD)/configure.log; exit 1; }; \
	cmake --build $(RUN_BUILD) -j $(JOBS) --target fce-gpu >$(RUN_BUILD)/build.log 2>&1 || { tail -40 $(RUN_BUILD)/build.log; exit 1; }
	@./$(RUN_BUILD)/fce-gpu train --out runs/default --force

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
