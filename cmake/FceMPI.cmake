# FceMPI.cmake: the optional libraries of data-parallel training (src/host/dist, issue 13).
#
# FCE_MPI=AUTO|ON|OFF -> FCE_HAVE_MPI and MPI::MPI_C. AUTO uses MPI when found (Debian:
# libopenmpi-dev), else the build has no launcher support: `mpirun -np N fce-gpu train` then runs N
# independent single-process trainings, and `fce-gpu info` says "MPI: no". ON stops when missing.
#
# FCE_NCCL=AUTO|ON|OFF -> FCE_HAVE_NCCL and the imported target FCE::NCCL (nccl.h and libnccl,
# looked for next to the CUDA toolkit, then in the usual places; NCCL_ROOT points elsewhere). Only
# with the CUDA backend: the GPUs' gradients are all-reduced by NCCL, bootstrapped through MPI.
set(FCE_HAVE_MPI OFF)
if(NOT FCE_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(FCE_HAVE_MPI ON)
  elseif(FCE_MPI STREQUAL "ON")
    message(FATAL_ERROR "FCE_MPI=ON but no MPI for C was found: sudo apt-get install -y "
                        "libopenmpi-dev openmpi-bin (or configure with -DFCE_MPI=OFF)")
  else()
    message(STATUS "fce-gpu: MPI not found; building without multi-process training")
  endif()
endif()

set(FCE_HAVE_NCCL OFF)
if(FCE_HAVE_CUDA AND NOT FCE_NCCL STREQUAL "OFF")
  set(nccl_hints ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR})
  find_path(FCE_NCCL_INCLUDE_DIR nccl.h HINTS ${nccl_hints} ${CUDAToolkit_INCLUDE_DIRS}
            PATH_SUFFIXES include)
  find_library(FCE_NCCL_LIBRARY nccl HINTS ${nccl_hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
  if(FCE_NCCL_INCLUDE_DIR AND FCE_NCCL_LIBRARY)
    set(FCE_HAVE_NCCL ON)
    add_library(FCE::NCCL UNKNOWN IMPORTED)
    set_target_properties(FCE::NCCL PROPERTIES IMPORTED_LOCATION ${FCE_NCCL_LIBRARY}
                          INTERFACE_INCLUDE_DIRECTORIES ${FCE_NCCL_INCLUDE_DIR})
  elseif(FCE_NCCL STREQUAL "ON")
    message(FATAL_ERROR "FCE_NCCL=ON but nccl.h or libnccl was not found: set NCCL_ROOT, or "
                        "configure with -DFCE_NCCL=OFF")
  else()
    message(STATUS "fce-gpu: NCCL not found; multi-process training on GPUs is not built")
  endif()
endif()
