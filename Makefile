# Thin wrapper over CMake for the commands users type. `make demo` and `make test` install
# what is missing first (scripts/setup.sh), so they work on a fresh machine.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build setup configure test demo bench clean asan

all: build

setup:
	@bash scripts/setup.sh

configure:
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# Tests run two at a time on two cores: OpenMP threads that spin while waiting would steal the
# cores from the other test, so they sleep instead (passive wait).
test: setup
	@$(MAKE) --no-print-directory build
	@cd $(BUILD) && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS) --timeout 1200

demo: setup
	@$(MAKE) --no-print-directory build
	@bash scripts/demo.sh $(BUILD)

bench: setup
	@$(MAKE) --no-print-directory build
	@OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} bash bench/run.sh $(BUILD)

asan:
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMISHNET_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0 \
		ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) build-asan
