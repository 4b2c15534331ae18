# The two quick-start commands. Each installs missing Debian/Ubuntu packages
# (scripts/deps.sh), configures and builds with CMake, then runs.
#   make bench   the benchmark on the default device and the CPU path
#   make test    every test: the suite, then again under ASan + UBSan

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
SAN_BUILD ?= build-sanitize
BENCH_ARGS ?=

.PHONY: all build test test-fast test-sanitize bench clean

all: build

build:
	@scripts/deps.sh test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite (including the 64M-element case), then the sanitizer run.
test: test-fast test-sanitize

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-sanitize:
	@scripts/deps.sh test
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVKBN_SANITIZE=address,undefined -DVKBN_BUILD_BENCH=OFF
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE large

bench:
	@scripts/deps.sh bench
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DVKBN_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS) --target vkbn-bench
	bench/run.sh $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
