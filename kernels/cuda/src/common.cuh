// Shared device helpers: parameter block, element types, cp.async / ldmatrix / mma.sync wrappers.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace lv {

// Everything a kernel needs, passed by value. Pointers are device pointers; see longview_attention.h.
struct Params {
  const void* q;
  const void* k;
  const void* v;
  void* out;
  float* lse;
  const int* rowPtr;
  const int* colIdx;
  int numHeads, numKvHeads, headDim;
  int queryStart, queryLength, kvLength, kvCapacity;
  int blockSize, numLayouts, numBlockRows, maxNnz;
  float scaleLog2;  // softmax scale * log2(e): scores live in the exp2 domain inside the kernels
  int tileOrder;    // prefill: which CTA computes which (head, query tile): PrefillTileOrder
  // decode only
  float* wsOut;  // [numHeads][numSplits][headDim] partial outputs (normalised)
  float* wsLse;  // [numHeads][numSplits] partial log2-sum-exp
  int numSplits;
  int setsPerKvHead;  // head sets sharing one layout inside a GQA group (see decode.cu)
};

constexpr float kLn2 = 0.69314718055994530942f;

template <typename T> struct Pack2;
template <> struct Pack2<__nv_bfloat16> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
};
template <> struct Pack2<__half> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
};

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; src_bytes = 0 fills the destination with zeros (rows past kvLength, padding rows).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

template <typename T> struct Mma;
template <> struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};
template <> struct Mma<__half> {
  static __device__ __forceinline__ void run(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

// Shared-memory tiles are [rows][D] with 16-byte chunks XOR-swizzled by (row & 7), so that ldmatrix's eight
// row addresses (same chunk, consecutive rows) fall in distinct banks. Needs D >= 64 (8 chunks a row).
template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

enum PrefillTileOrder : int {
  // Heads fastest, query tiles last-first (the default until 2026-12-07; LONGVIEW_CUDA_PREFILL_ORDER=heads): a wave
  // spans every head, so with 16 heads the strided or scattered columns a wave reads are 16 heads' worth (512 MB of
  // K/V at 64k) and each row may re-read them from HBM: 128 FLOP per byte on a 128x128 tile, under the ~270 FLOP/B an
  // H100 needs to stay compute-bound. It dropped to 370 TFLOP/s at 1M strided (0.85x FlexAttention).
  kTileOrderHeadsFastest = 0,
  // One KV head at a time (its query heads side by side), query tiles last-first (the default): the ~132 CTAs
  // resident at once read one KV head's K/V, whose kept blocks can stay in L2 (50 MB) while the wave reuses them.
  // Measured on an H100: 1M strided 370 -> 453 TFLOP/s, 256k random 5% 381 -> 421 (docs/benchmarks/kernels-cuda.md).
  kTileOrderKvMajor = 1,
};

// The (head, query tile counted from the last) that CTA `cta` of a prefill grid of numHeads * numQTiles computes.
// Later query tiles usually keep more blocks, so they go first and the grid's tail is light.
__device__ __forceinline__ void prefill_tile_of(const Params& p, int cta, int numQTiles, int& h, int& fromEnd) {
  if (p.tileOrder == kTileOrderHeadsFastest) {
    h = cta % p.numHeads;
    fromEnd = cta / p.numHeads;
    return;
  }
  const int group = p.numHeads / p.numKvHeads;
  const int perKvHead = numQTiles * group;
  const int kvh = cta / perKvHead;
  const int r = cta - kvh * perKvHead;
  fromEnd = r / group;
  h = kvh * group + (r - fromEnd * group);
}

// Row `row` of layout `l`: [begin, end) into colIdx (already offset by the layout's slice).
__device__ __forceinline__ void row_range(const Params& p, int l, int row, int& begin, int& end, const int*& cols) {
  const int* rp = p.rowPtr + (size_t)l * (p.numBlockRows + 1);
  begin = __ldg(rp + row);
  end = __ldg(rp + row + 1);
  cols = p.colIdx + (size_t)l * p.maxNnz;
}

}  // namespace lv
