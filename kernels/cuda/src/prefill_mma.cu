#include "launch.h"
#include "prefill_mma.cuh"

namespace lv {

template <typename T, int D, int BM, int BN>
static cudaError_t run_cfg(const Params& p, cudaStream_t st) {
  auto kernel = prefill_mma_kernel<T, D, BM, BN, 1>;
  constexpr int smem = prefill_mma_smem_bytes<T, D, BM, BN>();
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return e;
  const int firstTile = p.queryStart / BM;
  const long long tiles = (long long)((p.kvLength - 1) / BM + 1 - firstTile) * p.numHeads;
  if (tiles > 0x7fffffffLL) return cudaErrorInvalidValue;
  kernel<<<(unsigned)tiles, BM * 2, smem, st>>>(p);
  return cudaGetLastError();
}

template <typename T, int D>
static cudaError_t by_block(const Params& p, cudaStream_t st) {
  const int B = p.blockSize;
  if (B % 128 == 0) return run_cfg<T, D, 128, 64>(p, st);
  if (B % 64 == 0) return run_cfg<T, D, 64, 64>(p, st);
  if (B % 32 == 0) return run_cfg<T, D, 32, 32>(p, st);
  if (B % 16 == 0) return run_cfg<T, D, 16, 16>(p, st);
  return cudaErrorInvalidValue;
}

template <typename T>
static cudaError_t by_dim(const Params& p, cudaStream_t st) {
  if (p.headDim == 128) return by_block<T, 128>(p, st);
  if (p.headDim == 64) return by_block<T, 64>(p, st);
  return cudaErrorInvalidValue;
}

cudaError_t launch_prefill_mma(const Params& p, DType dt, cudaStream_t st) {
  return dt == DType::BF16 ? by_dim<__nv_bfloat16>(p, st) : by_dim<__half>(p, st);
}

}  // namespace lv
