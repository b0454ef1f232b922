# Every third-party dependency is found here, once, so libraries only name targets.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Torch REQUIRED)
find_package(MPI REQUIRED COMPONENTS C)
# Debian's faiss target names OpenMP::OpenMP_CXX in its link interface.
find_package(OpenMP REQUIRED)
find_package(faiss REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(CLI11 REQUIRED)
find_package(simdjson REQUIRED)
find_package(nlohmann_json REQUIRED)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
find_library(SENTENCEPIECE_TRAIN_LIB sentencepiece_train REQUIRED)

# Torch's imported targets carry the flags; strip the CUDA-less warning noise.
set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")

# A CUDA-enabled LibTorch: the GPU tests are built against it (tests/gpu).
set(FID_TORCH_HAS_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(FID_TORCH_HAS_CUDA ON)
endif()

# NCCL: on only with the CUDA toolkit, nccl.h and a CUDA-enabled LibTorch.
set(FID_HAVE_NCCL OFF)
if(NOT FID_WITH_NCCL STREQUAL "OFF")
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS /usr/local/cuda/include $ENV{NCCL_HOME}/include)
  find_library(NCCL_LIBRARY nccl HINTS /usr/local/cuda/lib64 $ENV{NCCL_HOME}/lib)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY AND FID_TORCH_HAS_CUDA)
    set(FID_HAVE_NCCL ON)
    message(STATUS "NCCL backend: on (${NCCL_LIBRARY})")
  elseif(FID_WITH_NCCL STREQUAL "ON")
    message(FATAL_ERROR "FID_WITH_NCCL=ON but CUDA toolkit, nccl.h or a CUDA LibTorch is missing")
  else()
    message(STATUS "NCCL backend: off (needs CUDA toolkit, nccl.h and a CUDA-enabled LibTorch)")
  endif()
endif()
