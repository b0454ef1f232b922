# Helpers shared by the library, test and benchmark directories.

# Precompiled header for targets that use LibTorch: one TU with <torch/torch.h>
# costs ~20 s, so every LibTorch target reuses the PCH built for fid_pch.
# GCC refuses a PCH built with other -fPIC/-fPIE or OpenMP settings, so
# libraries reuse fid_pch and executables fid_pch_exe; both link fid_torch.
function(fid_use_torch_pch target)
  get_target_property(_type ${target} TYPE)
  target_link_libraries(${target} PRIVATE fid_torch)
  if(_type STREQUAL "EXECUTABLE")
    target_precompile_headers(${target} REUSE_FROM fid_pch_exe)
  else()
    target_precompile_headers(${target} REUSE_FROM fid_pch)
  endif()
endfunction()

# fid_add_test(NAME name SOURCES ... LIBS ... LABELS tier [area ...] [MPI] [BINARY]
#              [TORCH] [NP n] [TIMEOUT s])
# A GoogleTest executable registered with CTest, with exactly one tier label
# (unit, parity, fuzz, integration, cluster, demo). MPI tests run through
# ${MPIEXEC_EXECUTABLE} -n 2 with the root and oversubscribe flags and get
# the resource label `mpi`. BINARY: the test drives the `fid` executable,
# which is built first, and carries the resource label `binary`.
function(fid_add_test)
  cmake_parse_arguments(T "MPI;TORCH;BINARY" "NAME;TIMEOUT;NP" "SOURCES;LIBS;LABELS" ${ARGN})
  # One tier each, so that `ctest -L unit` and the like select a whole tier.
  set(_tiers unit parity fuzz integration cluster demo)
  set(_tier "")
  foreach(t ${_tiers})
    if(t IN_LIST T_LABELS)
      list(APPEND _tier ${t})
    endif()
  endforeach()
  list(LENGTH _tier _n)
  if(NOT _n EQUAL 1)
    message(FATAL_ERROR "test ${T_NAME}: give exactly one tier label of ${_tiers} (has: ${_tier})")
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} fid_test_main)
  if(T_TORCH)
    fid_use_torch_pch(${T_NAME})
  endif()
  if(T_BINARY)
    add_dependencies(${T_NAME} fid)
    list(APPEND T_LABELS binary)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  if(NOT T_NP)
    set(T_NP 2)
  endif()
  set(_env "FID_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data"
           "FID_BINARY=$<TARGET_FILE:fid>"
           "OMPI_ALLOW_RUN_AS_ROOT=1" "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
           "OMPI_MCA_rmaps_base_oversubscribe=1")
  if(T_MPI)
    # Every rank runs every case: the suite runs as one CTest test.
    add_test(NAME ${T_NAME}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_NP}
                     --oversubscribe $<TARGET_FILE:${T_NAME}>)
    list(APPEND T_LABELS mpi)
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
                         ENVIRONMENT "${_env}" LABELS "${T_LABELS}")
  else()
    # One CTest test per case, named <executable>.<Suite>.<Case>, so that
    # `ctest -R` selects a case and `ctest -R '^name\.'` a whole executable.
    # List-valued properties do not survive gtest_discover_tests' PROPERTIES,
    # so a file included after the discovered list sets them on every case.
    gtest_discover_tests(${T_NAME} TEST_PREFIX "${T_NAME}." DISCOVERY_MODE PRE_TEST
                         DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT ${T_TIMEOUT})
    set(_props "${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_properties.cmake")
    file(GENERATE OUTPUT "${_props}" CONTENT
         "if(${T_NAME}_TESTS)\n  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES LABELS \"${T_LABELS}\"\n    ENVIRONMENT \"${_env}\")\nendif()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_props}")
  endif()
endfunction()

# fid_add_bench(NAME name SOURCES ... LIBS ...): built with the tests, run by hand.
function(fid_add_bench)
  cmake_parse_arguments(B "TORCH" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE ${B_LIBS})
  if(B_TORCH)
    fid_use_torch_pch(${B_NAME})
  endif()
  set_target_properties(${B_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endfunction()

# LibTorch with the flags every LibTorch target shares (OpenMP: ATen's
# parallel backend; the MPI C++ bindings stay out).
add_library(fid_torch INTERFACE)
target_link_libraries(fid_torch INTERFACE torch OpenMP::OpenMP_CXX)
target_compile_definitions(fid_torch INTERFACE OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)

# The targets that own the shared LibTorch PCH.
add_library(fid_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
target_link_libraries(fid_pch PUBLIC fid_torch)
target_precompile_headers(fid_pch PRIVATE <torch/torch.h>)
add_executable(fid_pch_exe ${CMAKE_CURRENT_LIST_DIR}/pch_main.cpp)
target_link_libraries(fid_pch_exe PRIVATE fid_torch)
target_precompile_headers(fid_pch_exe PRIVATE <torch/torch.h>)
