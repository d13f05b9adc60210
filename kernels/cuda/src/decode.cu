#include "launch.h"
#include "decode.cuh"

namespace lv {

int decode_sets_per_kv_head(int numHeads, int numKvHeads, int numLayouts) {
  const int G = numHeads / numKvHeads;
  const int R = numLayouts < G ? numLayouts : G;
  const int largest = (G + numLayouts - 1) / numLayouts;  // heads in the residue-0 set
  return R * ((largest + 15) / 16);
}

template <typename T, int D>
static cudaError_t run(const Params& p, cudaStream_t st) {
  auto split = decode_split_kernel<T, D>;
  constexpr int smem = decode_smem_bytes<T, D>();
  cudaError_t e = cudaFuncSetAttribute(split, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return e;
  dim3 grid(p.numSplits, p.numKvHeads * p.setsPerKvHead);
  split<<<grid, kDecodeThreads, smem, st>>>(p);
  if ((e = cudaGetLastError()) != cudaSuccess) return e;
  decode_combine_kernel<T, D><<<p.numHeads, D, 0, st>>>(p);
  return cudaGetLastError();
}

template <typename T>
static cudaError_t by_dim(const Params& p, cudaStream_t st) {
  if (p.blockSize % 16 != 0) return cudaErrorInvalidValue;
  if (p.headDim == 128) return run<T, 128>(p, st);
  if (p.headDim == 64) return run<T, 64>(p, st);
  return cudaErrorInvalidValue;
}

cudaError_t launch_decode(const Params& p, DType dt, cudaStream_t st) {
  return dt == DType::BF16 ? by_dim<__nv_bfloat16>(p, st) : by_dim<__half>(p, st);
}

}  // namespace lv
