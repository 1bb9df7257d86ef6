# FceMPI.cmake: the optional libraries of data-parallel training (src/host/dist, issue 13).
#
# FCE_MPI=AUTO|ON|OFF -> FCE_HAVE_MPI and MPI::MPI_C. AUTO uses MPI when found (Debian:
# libopenmpi-dev), else the build has no launcher support: `mpirun -np N fce-gpu train` (N > 1) is
# then refused, and `fce-gpu info` says "MPI ...: no". ON stops when missing.
#
# FCE_NCCL=AUTO|ON|OFF -> FCE_HAVE_NCCL and the imported target FCE::NCCL (nccl.h and libnccl,
# looked for next to the CUDA toolkit, then in the usual places; NCCL_ROOT points elsewhere). Only
# with the CUDA backend: the GPUs' gradients are all-reduced by NCCL, bootstrapped through MPI.
# fce_not_found(OPTION WHAT FIX CONSEQUENCE): OPTION=ON stops the configuration naming the fix;
# AUTO says what the build goes without.
function(fce_not_found option what fix consequence)
  if(${option} STREQUAL "ON")
    message(FATAL_ERROR "${option}=ON but ${what} was not found: ${fix} (or configure with -D${option}=OFF)")
  endif()
  message(STATUS "fce-gpu: ${what} not found; ${consequence}")
endfunction()

set(FCE_HAVE_MPI OFF)
if(NOT FCE_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(FCE_HAVE_MPI ON)
  else()
    fce_not_found(FCE_MPI "MPI for C" "sudo apt-get install -y libopenmpi-dev openmpi-bin"
                  "building without multi-process training")
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
  else()
    fce_not_found(FCE_NCCL "NCCL (nccl.h and libnccl)" "set NCCL_ROOT to its folder"
                  "multi-process training on GPUs is not built")
  endif()
endif()
