#include "launch.h"
#include "prefill_wgmma.cuh"

namespace lv {

void wgmma_tiles(int blockSize, int headDim, int* bm, int* bn) {
  *bm = *bn = 0;
  if (headDim != 64 && headDim != 128) return;
  if (blockSize % 128 == 0) {
    *bm = 128;
    *bn = 128;
  } else if (blockSize % 64 == 0) {
    *bm = 64;
    *bn = 64;
  }
}

template <typename T, int D, int NWG, int BN, int VARIANT = 2, int STG = 2>
static auto kernel_of() {
  return prefill_wgmma_kernel<T, D, NWG, BN, VARIANT, STG>;
}

template <typename T, int D, int NWG, int BN, int VARIANT, int STG>
static cudaError_t launch_with(const Params& p, const CUtensorMap* maps, cudaStream_t st) {
  using Cfg = Sm90Cfg<T, D, NWG, BN, STG>;
  auto kernel = kernel_of<T, D, NWG, BN, VARIANT, STG>();
  cudaFuncAttributes attr;
  cudaError_t e = cudaFuncGetAttributes(&attr, kernel);
  if (e != cudaSuccess) return e;
  if (attr.ptxVersion < 90 || attr.binaryVersion != 90) return cudaErrorNoKernelImageForDevice;
  if ((e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::SMEM)) != cudaSuccess) return e;
  const int firstTile = p.queryStart / Cfg::BM;
  const long long tiles = (long long)((p.kvLength - 1) / Cfg::BM + 1 - firstTile) * p.numHeads;
  if (tiles > 0x7fffffffLL) return cudaErrorInvalidValue;
  kernel<<<(unsigned)tiles, Cfg::THREADS, Cfg::SMEM, st>>>(maps[0], maps[1], maps[2], p);
  return cudaGetLastError();
}

// stages 3 (the default): only the sequential variants (0, 3) with 128-row tiles have a 3-deep K/V ring compiled; the
// other variants and 64-row tiles run with 2.
template <typename T, int D, int NWG, int BN>
static cudaError_t run_cfg(const Params& p, const CUtensorMap* maps, int variant, int stages, cudaStream_t st) {
  if constexpr (NWG == 2) {
    if (stages == 3 && variant == 0) return launch_with<T, D, NWG, BN, 0, 3>(p, maps, st);
    if (stages == 3 && variant == 3) return launch_with<T, D, NWG, BN, 3, 3>(p, maps, st);
  }
  switch (variant) {
    case 0: return launch_with<T, D, NWG, BN, 0, 2>(p, maps, st);
    case 1: return launch_with<T, D, NWG, BN, 1, 2>(p, maps, st);
    case 2: return launch_with<T, D, NWG, BN, 2, 2>(p, maps, st);
    default: return launch_with<T, D, NWG, BN, 3, 2>(p, maps, st);
  }
}

template <typename T, int D>
static cudaError_t by_block(const Params& p, const CUtensorMap* maps, int variant, int stages, cudaStream_t st) {
  if (p.blockSize % 128 == 0) return run_cfg<T, D, 2, 128>(p, maps, variant, stages, st);
  if (p.blockSize % 64 == 0) return run_cfg<T, D, 1, 64>(p, maps, variant, stages, st);
  return cudaErrorInvalidValue;
}

template <typename T>
static cudaError_t by_dim(const Params& p, const CUtensorMap* maps, int variant, int stages, cudaStream_t st) {
  if (p.headDim == 128) return by_block<T, 128>(p, maps, variant, stages, st);
  if (p.headDim == 64) return by_block<T, 64>(p, maps, variant, stages, st);
  return cudaErrorInvalidValue;
}

cudaError_t launch_prefill_wgmma(const Params& p, DType dt, const CUtensorMap* maps, int variant, int stages, cudaStream_t st) {
  return dt == DType::BF16 ? by_dim<__nv_bfloat16>(p, maps, variant, stages, st) : by_dim<__half>(p, maps, variant, stages, st);
}

bool wgmma_compiled(DType dt, int headDim) {
  cudaFuncAttributes attr;
  cudaError_t e;
  if (dt == DType::BF16)
    e = headDim == 64 ? cudaFuncGetAttributes(&attr, kernel_of<__nv_bfloat16, 64, 2, 128>())
                      : cudaFuncGetAttributes(&attr, kernel_of<__nv_bfloat16, 128, 2, 128>());
  else
    e = headDim == 64 ? cudaFuncGetAttributes(&attr, kernel_of<__half, 64, 2, 128>())
                      : cudaFuncGetAttributes(&attr, kernel_of<__half, 128, 2, 128>());
  if (e != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.ptxVersion >= 90 && attr.binaryVersion == 90;
}

}  // namespace lv
