# cmake --install: headers, the library (static, or shared with SONAME and
# version; a Windows DLL goes to bin/), the tool (tools/vkbn), the CMake
# package (vkbnConfig.cmake, its version file, vkbn::vkbn and, when built,
# vkbn::vkbn_mpi) and vkbn.pc, under the GNUInstallDirs layout.
include(CMakePackageConfigHelpers)

function(vkbn_install_package)
  set(cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/vkbn)
  install(TARGETS vkbn EXPORT vkbnTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/vkbn/vkbn.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vkbn)
  install(EXPORT vkbnTargets NAMESPACE vkbn:: DESTINATION ${cmakedir})
  set(VKBN_CONFIG_HAVE_MPI OFF)
  if(TARGET vkbn_mpi)
    set(VKBN_CONFIG_HAVE_MPI ON)
    install(EXPORT vkbnMpiTargets NAMESPACE vkbn:: DESTINATION ${cmakedir})
  endif()
  get_target_property(type vkbn TYPE)
  set(VKBN_CONFIG_STATIC OFF)
  if(type STREQUAL "STATIC_LIBRARY")
    set(VKBN_CONFIG_STATIC ON)
  endif()
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vkbnConfig.cmake.in
                                ${PROJECT_BINARY_DIR}/package/vkbnConfig.cmake INSTALL_DESTINATION ${cmakedir})
  # 0.x: a minor version may break the API.
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/vkbnConfigVersion.cmake
                                   VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/package/vkbnConfig.cmake ${PROJECT_BINARY_DIR}/package/vkbnConfigVersion.cmake
          DESTINATION ${cmakedir})

  # vkbn.pc, relocatable: the prefix is found from the file's own directory.
  file(RELATIVE_PATH VKBN_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
  string(REGEX REPLACE "/$" "" VKBN_PC_TO_PREFIX "${VKBN_PC_TO_PREFIX}")
  file(RELATIVE_PATH VKBN_PC_LIBDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_LIBDIR})
  file(RELATIVE_PATH VKBN_PC_INCLUDEDIR ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_FULL_INCLUDEDIR})
  set(VKBN_PC_CFLAGS "")
  set(VKBN_PC_LIBS "")
  if(VKBN_CONFIG_STATIC)
    # A static vkbn has no shared alternative: its dependencies go in Libs.
    if(NOT WIN32)
      set(VKBN_PC_LIBS " ${CMAKE_THREAD_LIBS_INIT} ${CMAKE_DL_LIBS} -lm")
      string(REPLACE " dl " " -ldl " VKBN_PC_LIBS "${VKBN_PC_LIBS}")
    endif()
  else()
    set(VKBN_PC_CFLAGS " -DVKBN_SHARED")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/vkbn.pc.in ${PROJECT_BINARY_DIR}/package/vkbn.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/package/vkbn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
