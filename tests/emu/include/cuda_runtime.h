/* tests/emu/include/cuda_runtime.h: stand-in for CUDA's cuda_runtime.h, used ONLY by the CPU
 * emulation test (tests/emu). Like the real header it brings in the runtime API and the device
 * language (here: its CPU emulation, emu_cuda.h) and the math library. */
#ifndef FCE_EMU_CUDA_RUNTIME_H
#define FCE_EMU_CUDA_RUNTIME_H
#include "cuda_runtime_api.h"
#include "emu_cuda.h"
#endif
