# Cross-compiling for 64-bit Windows with Debian's MinGW-w64 (gcc-mingw-w64-
# x86-64, win32 thread model: vkbn's platform layer calls Win32 directly);
# tests run under Wine (CMAKE_CROSSCOMPILING_EMULATOR). Used by
# `make test-windows`.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The Vulkan and volk headers are architecture-independent: the host's serve
# (CMakeLists.txt copies them into the build tree, so /usr/include itself,
# with glibc's headers, never reaches the include path).
set(VKBN_VULKAN_INCLUDE /usr/include CACHE PATH "Vulkan headers")
set(VKBN_VOLK_INCLUDE /usr/include CACHE PATH "volk.h")
# What the binaries need at run time ships inside them: libgcc statically
# (no libgcc_s_seh-1.dll); no winpthread (no pthreads on Windows).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")
# Wine: 64-bit only, quiet, in its own prefix under the build tree.
find_program(VKBN_WINE64 NAMES wine64 PATHS /usr/lib/wine /usr/lib64/wine NO_DEFAULT_PATH)
if(NOT VKBN_WINE64)
  find_program(VKBN_WINE64 NAMES wine64 wine)
endif()
if(VKBN_WINE64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VKBN_WINE64})
endif()
