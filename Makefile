# The two quick-start commands. Each installs missing Debian/Ubuntu packages
# (scripts/deps.sh), configures and builds with CMake, then runs.
#   make bench   the benchmark on the default device and the CPU path
#   make test    every test: the suite, then again under ASan + UBSan, then the
#                CPU path cross-compiled for aarch64 and run under qemu-user

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
SAN_BUILD ?= build-sanitize
AARCH64_BUILD ?= build-aarch64
BENCH_ARGS ?=

.PHONY: all build test test-fast test-sanitize test-aarch64 bench clean

all: build

build:
	@scripts/deps.sh test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite (including the 64M-element case), then the sanitizer run.
test: test-fast test-sanitize test-aarch64

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-sanitize:
	@scripts/deps.sh test
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVKBN_SANITIZE=address,undefined -DVKBN_BUILD_BENCH=OFF
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE large

# The CPU path's tests (label cpu) on aarch64 NEON and scalar kernels, under
# qemu-user: no Vulkan loader there, so the library must stand on the CPU path.
test-aarch64:
	@scripts/deps.sh test
	cmake -S . -B $(AARCH64_BUILD) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake \
		-DCMAKE_BUILD_TYPE=Release -DVKBN_BUILD_BENCH=OFF -DVKBN_BUILD_TOOLS=OFF
	cmake --build $(AARCH64_BUILD) -j $(JOBS) --target test_forward test_api test_cpu test_backward test_backward_api test_training \
		test_golden
	cd $(AARCH64_BUILD) && ctest --output-on-failure -j $(JOBS) -L cpu -LE large

bench:
	@scripts/deps.sh bench
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DVKBN_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS) --target vkbn-bench
	bench/run.sh $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(AARCH64_BUILD)
