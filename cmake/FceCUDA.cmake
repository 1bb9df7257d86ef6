# FCE_CUDA=AUTO|ON|OFF: AUTO builds the CUDA backend when a CUDA compiler and cuDNN are found,
# else a CPU-only build with a status line; ON stops with a hint when they are missing.
set(FCE_HAVE_CUDA OFF)
if(NOT FCE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)   # nvcc is often not on PATH
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    find_package(CUDNN)
    if(CUDNN_FOUND)
      set(FCE_HAVE_CUDA ON)
    elseif(FCE_CUDA STREQUAL "ON")
      message(FATAL_ERROR "FCE_CUDA=ON but cuDNN was not found: set CUDNN_ROOT to the folder that "
                          "holds include/cudnn.h, or configure with -DFCE_CUDA=OFF")
    else()
      message(STATUS "fce-gpu: cuDNN not found; building the CPU backend only")
    endif()
  elseif(FCE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "FCE_CUDA=ON but no CUDA compiler was found: set CUDACXX or "
                        "-DCMAKE_CUDA_COMPILER, or configure with -DFCE_CUDA=OFF")
  else()
    message(STATUS "fce-gpu: no CUDA compiler found; building the CPU backend only")
  endif()
endif()
