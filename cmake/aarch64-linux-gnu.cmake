# Cross-compiling for aarch64 with Debian's gcc-aarch64-linux-gnu; tests run
# under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR), which has no Vulkan loader,
# so they exercise the CPU path. Used by `make test-aarch64`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
# Build tools (glslangValidator) come from the host; the Vulkan and volk
# headers are architecture-independent, so the host's serve; libraries come
# from the target's root.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(VKBN_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(VKBN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VKBN_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
