# The two quick-start commands. Each installs missing Debian/Ubuntu packages
# (scripts/deps.sh), configures and builds with CMake, then runs.
#   make bench   the benchmark on every device (each Vulkan device and the CPU path)
#   make test    every test: the suite, then again under ASan + UBSan, the
#                fuzz targets' replays, the threaded tests under TSan, then the
#                CPU path cross-compiled for aarch64 and run under qemu-user,
#                then the Windows build (MinGW-w64) under Wine, then vkbn as
#                an installed package (CMake and pkg-config consumers)

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
SAN_BUILD ?= build-sanitize
AARCH64_BUILD ?= build-aarch64
WINDOWS_BUILD ?= build-windows
WINDOWS_DLL_BUILD ?= build-windows-dll
PACKAGE_BUILD ?= build-package
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
FUZZ_SECONDS ?= 0
BENCH_ARGS ?=

.PHONY: all build spirv test test-fast test-sanitize test-fuzz test-tsan test-aarch64 test-windows test-package bench fuzz clean

all: build

build:
	@scripts/deps.sh test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# The SPIR-V (shaders/), compiled once in $(BUILD): every other lane's build
# embeds it from there (VKBN_SPIRV_FROM, cmake/EmbedShaders.cmake) instead
# of compiling the same variants again.
SPIRV = -DVKBN_SPIRV_FROM=$(CURDIR)/$(BUILD)
spirv:
	@scripts/deps.sh test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS) --target vkbn_spirv

# The whole suite (including the 64M-element case), then the sanitizer run,
# the fuzz replays, TSan, aarch64 under qemu-user, Windows under Wine, and
# the installed package. One lane at a time: each keeps both cores busy most
# of its time, and running two at once did not help (/usr/bin/time make
# test in fresh clones: 1,262 s with two lanes at a time, 95.6% of two
# cores busy; 1,276 s one at a time on the tree just before that change).
test: test-fast test-sanitize test-fuzz test-tsan test-aarch64 test-windows test-package

# The tests' host buffers (tensors of up to 64M elements, their fp64
# references) come from glibc's malloc on transparent huge pages: a fresh
# 4 KiB page costs a fault, and in a VM a dear one (`test_backward large`:
# 26.3 s, 11.4 s of it in the kernel, against 15.9 s with the tunable). What
# the tests check does not change; ctest run by hand just runs slower.
TEST_ENV = GLIBC_TUNABLES=glibc.malloc.hugetlb=1

test-fast: build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j $(JOBS)

# The CPU kernel files get line tables only (-g1): with full debug info gcc
# takes 50 s per kernel file under the sanitizers, 30 s with line tables,
# which still name the line of any report (cpu_kernels_scalar.c compiled
# alone with the lane's flags, -g then -g1, under /usr/bin/time), and without
# UBSan's pointer-overflow check, which is a quarter of their compile
# (cpu_kernels_avx2.c: 61 s, 46 s without it; ASan's bounds checks and the
# rest of UBSan stay, and a kernel's pointers are offsets into a buffer
# ASan watches). The x86
# levels are scalar and AVX2 (VKBN_CPU_X86_LEVELS): the kernels are one
# template over the vector primitives, so what the sanitizers check (the
# indexing of rows, tails and blocks, the threads' ranges) is the same code
# at every width; scalar (1 lane) and AVX2 (8) run it with and without
# vectors and tails, on any x86-64 CI machine. Every level's results are
# checked in the other lanes.
test-sanitize: spirv
	@scripts/deps.sh test
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
		-DVKBN_SANITIZE=address,undefined -DVKBN_BUILD_BENCH=OFF -DVKBN_CPU_TEST_THREADS=alternate \
		-DVKBN_CPU_KERNEL_FLAGS="-g1;-fno-sanitize=pointer-overflow" -DVKBN_CPU_X86_LEVELS=avx2 $(SPIRV)
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE large

# The fuzz targets (tests/fuzz: the .npy reader, the tool, the API's
# descriptions), built with clang, libFuzzer, ASan and UBSan: each replays its
# committed corpus and then a fixed number of mutations from a fixed seed.
# The CPU kernels are compiled at -O0 here: clang takes 90 s per kernel file
# at -O1 with the sanitizers, 20 s at -O0 (cpu_kernels_sse2.c and
# cpu_kernels_avx2.c compiled alone with this lane's flags under
# /usr/bin/time), and the fuzzers run tiny tensors; only the scalar kernels
# are built (VKBN_CPU_X86_LEVELS empty): the fuzzers test descriptions,
# plans and files, and every level's kernels run under ASan + UBSan in
# test-sanitize's matrices.
FUZZ_CONFIGURE = CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
		-DVKBN_SANITIZE=address,undefined -DVKBN_FUZZ=ON -DVKBN_BUILD_BENCH=OFF -DVKBN_CPU_KERNEL_FLAGS=-O0 \
		-DVKBN_CPU_X86_LEVELS= $(SPIRV)
test-fuzz: spirv
	@scripts/deps.sh test
	$(FUZZ_CONFIGURE)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_npy fuzz_cli fuzz_api
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -L fuzz

# The fuzzers open-ended, one per core, each growing $(FUZZ_BUILD)/explore/NAME/corpus
# (FUZZ_SECONDS=N stops them after N seconds; 0: until interrupted). Crashes
# land beside the corpus; commit them to tests/fuzz/corpus/NAME.
fuzz: spirv
	@scripts/deps.sh test
	$(FUZZ_CONFIGURE)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_npy fuzz_cli fuzz_api
	for t in npy cli api; do \
	  tests/fuzz/run.sh explore $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t tests/fuzz/corpus/$$t \
	    $(FUZZ_BUILD)/explore/$$t $(FUZZ_SECONDS) & \
	done; wait

# ThreadSanitizer (label threads: the CPU pool under several caller threads,
# plans created and recorded from several threads, several contexts at once,
# the synchronized calls from threads), suppressions in tests/tsan.supp.
# The kernels are scalar only: how work is shared between threads does not
# depend on the level.
test-tsan: spirv
	@scripts/deps.sh test
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DVKBN_SANITIZE=thread \
		-DVKBN_BUILD_BENCH=OFF -DVKBN_BUILD_TOOLS=OFF -DVKBN_CPU_KERNEL_FLAGS=-O0 \
		-DVKBN_CPU_X86_LEVELS= $(SPIRV)
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_threads test_engine
	cd $(TSAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L threads

# The CPU path's tests (label cpu) on aarch64 NEON and scalar kernels, under
# qemu-user: no Vulkan loader there, so the library must stand on the CPU path.
# The kernels at -O1, as on Windows: the lane checks the platform, and -O2
# cost more build than it saved under qemu (the lane's build 20.2 s -> 14.5 s,
# its tests 14.7 s -> 15.8 s, this machine, each timed in a fresh directory).
test-aarch64: spirv
	@scripts/deps.sh test
	cmake -S . -B $(AARCH64_BUILD) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake \
		-DCMAKE_BUILD_TYPE=Release -DVKBN_BUILD_BENCH=OFF -DVKBN_BUILD_TOOLS=OFF -DVKBN_CPU_TEST_THREADS=3 \
		-DVKBN_CPU_KERNEL_FLAGS=-O1 $(SPIRV)
	cmake --build $(AARCH64_BUILD) -j $(JOBS) --target test_forward test_api test_cpu test_backward test_backward_api test_training test_faults \
		test_golden
	cd $(AARCH64_BUILD) && $(TEST_ENV) ctest --output-on-failure -j $(JOBS) -L cpu -LE large

# Windows: the library (static, and as a DLL), the tool and the tests
# cross-built with MinGW-w64 and run under Wine: the CPU path at the AVX2
# level (its 32-byte vectors are what the Windows x64 ABI's 16-byte stack
# alignment can break, as AVX-512's would; SSE2 is the scalar path's width)
# and scalar, the Vulkan tests through Wine's Vulkan on lavapipe under Xvfb
# (scripts/test-windows.sh). The DLL build checks linking and exports: its
# kernels are scalar only. The kernels are compiled at -O1: this lane checks
# the platform (ABI, stack alignment of spilled vectors, Win32 threads and
# files), not their speed, and MinGW's -O2 took 24.8 s per kernel file
# against 15.3 s at -O1 (cpu_kernels_avx2.c alone, /usr/bin/time).
WINDOWS_TESTS = test_testkit test_api test_forward test_backward test_cpu test_backward_api test_training vkbn_cli
test-windows: spirv
	@scripts/deps.sh test
	cmake -S . -B $(WINDOWS_BUILD) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/x86_64-w64-mingw32.cmake \
		-DCMAKE_BUILD_TYPE=Release -DVKBN_BUILD_BENCH=OFF -DVKBN_CPU_KERNEL_FLAGS=-O1 \
		-DVKBN_CPU_X86_LEVELS=avx2 $(SPIRV)
	cmake --build $(WINDOWS_BUILD) -j $(JOBS) --target $(WINDOWS_TESTS)
	cmake -S . -B $(WINDOWS_DLL_BUILD) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/x86_64-w64-mingw32.cmake \
		-DCMAKE_BUILD_TYPE=Debug -DVKBN_SHARED=ON -DVKBN_BUILD_BENCH=OFF \
		-DVKBN_CPU_X86_LEVELS= $(SPIRV)
	cmake --build $(WINDOWS_DLL_BUILD) -j $(JOBS) --target test_api vkbn_cli
	JOBS=$(JOBS) xvfb-run -a -s "-screen 0 640x480x24" scripts/test-windows.sh $(WINDOWS_BUILD) $(WINDOWS_DLL_BUILD)

# The installed package: vkbn built shared and installed, the static build
# installed, the exports checked against the headers, and an out-of-tree
# consumer built against each both ways (tests/package/run.sh).
test-package: build
	JOBS=$(JOBS) tests/package/run.sh $(BUILD) $(PACKAGE_BUILD)

bench:
	@scripts/deps.sh bench
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DVKBN_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS) --target vkbn-bench
	bench/run.sh $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD) $(AARCH64_BUILD) $(WINDOWS_BUILD) $(WINDOWS_DLL_BUILD) \
		$(PACKAGE_BUILD)
