/* channels.cu: copy (or add) a slice of channels between two row-major tensors, as in
 * src/host/ref/channels_ref.c. Used to split/merge the two halves of a coupling layer.
 *
 *   dst[r·dst_C + dst_c0 + k] (= or +=) src[r·src_C + src_c0 + k],  r < rows, k < count
 *
 * Kernel: channels_copy_kernel, one thread per (r, k) over rows·count (grid-stride, k fastest so
 * neighbouring threads touch neighbouring addresses). accumulate = 1 is the += form. */
#include "common.cuh"
#include "fce_kernels.h"

static __global__ void channels_copy_kernel(float *dst, int dst_C, int dst_c0, const float *src,
                                            int src_C, int src_c0, int count, size_t rows,
                                            int accumulate) {
    const size_t total = rows * (size_t)count;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / (size_t)count, k = i % (size_t)count;
        float v = src[r * (size_t)src_C + (size_t)src_c0 + k];
        float *d = dst + r * (size_t)dst_C + (size_t)dst_c0 + k;
        if (accumulate) *d += v;
        else *d = v;
    }
}

extern "C" fce_status fce_cuda_channels_copy(float *dst, int dst_C, int dst_c0, const float *src,
                                             int src_C, int src_c0, int count, size_t rows,
                                             int accumulate, cudaStream_t stream) {
    FCE_ASSERT(count >= 0 && dst_c0 >= 0 && src_c0 >= 0 && dst_c0 + count <= dst_C &&
                   src_c0 + count <= src_C,
               "channels_copy: slice [%d, %d) of %d -> [%d, %d) of %d out of range", src_c0,
               src_c0 + count, src_C, dst_c0, dst_c0 + count, dst_C);
    size_t total = rows * (size_t)count;
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * total * (accumulate ? 2 : 1), FCE_F4 * total);
    channels_copy_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        dst, dst_C, dst_c0, src, src_C, src_c0, count, rows, accumulate);
    FCE_LAUNCH_CHECK("channels_copy_kernel");
    return FCE_STATUS_OK;
}
