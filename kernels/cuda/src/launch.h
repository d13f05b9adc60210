// Host-side launchers, one per kernel family (each lives in its own .cu so they compile in parallel).
#pragma once
#include <cuda.h>
#include <cuda_runtime.h>
#include "common.cuh"

namespace lv {

enum class DType { BF16 = 0, FP16 = 1 };

// Prefill with mma.sync; picks the tile shape from blockSize. Returns cudaErrorInvalidValue when no
// instantiation fits (headDim not 64/128, blockSize not a multiple of 16).
cudaError_t launch_prefill_mma(const Params& p, DType dt, cudaStream_t st);

// Split-K decode (queryLength == 1) + combine; p.wsOut/wsLse/numSplits/setsPerKvHead must be set.
cudaError_t launch_decode(const Params& p, DType dt, cudaStream_t st);
int decode_sets_per_kv_head(int numHeads, int numKvHeads, int numLayouts);

// Hopper prefill. `maps` = {Q, K, V} tensor maps built by the caller (api.cpp). Returns
// cudaErrorInvalidValue for unsupported shapes, cudaErrorNoKernelImageForDevice when this binary has no
// sm_90a code for the kernel.
// variant: 0 = sequential, 1 = software-pipelined, 2 = pipelined + ping-pong, 3 = sequential with the lean softmax
// (prefill_wgmma.cuh; needs a positive scale).
cudaError_t launch_prefill_wgmma(const Params& p, DType dt, const CUtensorMap* maps, int variant, int stages, cudaStream_t st);
// Tile sizes the Hopper kernel uses for a block size: rows per CTA and keys per tile (0 when unsupported).
void wgmma_tiles(int blockSize, int headDim, int* bm, int* bn);
// Whether the wgmma kernel for this type/head dim was compiled to sm_90a machine code in this binary.
bool wgmma_compiled(DType dt, int headDim);

}  // namespace lv
