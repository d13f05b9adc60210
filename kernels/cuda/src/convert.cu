// float32 <-> bf16/fp16 conversions on the device, used by the Node addon's host-array path.
#include <string>

#include "../include/longview_attention.h"
#include "common.cuh"

struct lv_context;
extern "C" void* lv_context_stream(lv_context* ctx);

namespace {

template <typename T>
__global__ void from_f32_rows(T* dst, size_t dstPitch, const float* src, size_t srcPitch, size_t rowElems, size_t rows) {
  const size_t n = rowElems * rows;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const size_t r = i / rowElems, c = i % rowElems;
    dst[r * dstPitch + c] = static_cast<T>(src[r * srcPitch + c]);
  }
}
template <typename T>
__global__ void to_f32(float* dst, const T* src, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = static_cast<float>(src[i]);
}

unsigned grid_for(size_t n) {
  size_t g = (n + 255) / 256;
  return (unsigned)(g < 1 ? 1 : g > 65535 ? 65535 : g);
}

}  // namespace

extern "C" int lv_convert_from_f32(lv_context* ctx, lv_dtype dtype, void* dst, size_t dstPitchElems, const float* src,
                                   size_t srcPitchElems, size_t rowElems, size_t rows) {
  if (!ctx || !dst || !src) return LV_E_INVALID;
  cudaStream_t st = (cudaStream_t)lv_context_stream(ctx);
  const size_t n = rowElems * rows;
  if (n == 0) return LV_OK;
  if (dtype == LV_BF16)
    from_f32_rows<<<grid_for(n), 256, 0, st>>>((__nv_bfloat16*)dst, dstPitchElems, src, srcPitchElems, rowElems, rows);
  else
    from_f32_rows<<<grid_for(n), 256, 0, st>>>((__half*)dst, dstPitchElems, src, srcPitchElems, rowElems, rows);
  return cudaGetLastError() == cudaSuccess ? LV_OK : LV_E_CUDA;
}

extern "C" int lv_convert_to_f32(lv_context* ctx, lv_dtype dtype, float* dst, const void* src, size_t n) {
  if (!ctx || !dst || !src) return LV_E_INVALID;
  cudaStream_t st = (cudaStream_t)lv_context_stream(ctx);
  if (n == 0) return LV_OK;
  if (dtype == LV_BF16)
    to_f32<<<grid_for(n), 256, 0, st>>>(dst, (const __nv_bfloat16*)src, n);
  else
    to_f32<<<grid_for(n), 256, 0, st>>>(dst, (const __half*)src, n);
  return cudaGetLastError() == cudaSuccess ? LV_OK : LV_E_CUDA;
}
