// Block-sparse decode (one query row per head) with split-K over the kept key blocks.
//
// Decode is bound by reading K and V, so the grid spreads the kept keys of one head set over many CTAs
// (splits) and merges their partial softmax results by log-sum-exp in a second, tiny kernel.
// A head set = the query heads of one GQA group that share a layout (heads j, j+L, j+2L ... of the group,
// L = numLayouts): they read the same key blocks, so one CTA reads K/V once for all of them (up to 16 heads
// ride in the 16 rows of an m16n8k16 MMA). Each of the 4 warps takes a 16-key sub-tile of a 64-key step;
// steps stream through a 3-stage cp.async ring.
#pragma once
#include "common.cuh"
#include "prefill_mma.cuh"  // fast_exp2

namespace lv {

constexpr int kDecodeStages = 3;
constexpr int kDecodeThreads = 128;

template <typename T, int D>
constexpr int decode_smem_bytes() {
  return kDecodeStages * 2 * 64 * D * (int)sizeof(T);
}

struct HeadSet {
  int kvh, residue, nRows, firstHead, headStride;
};

__device__ __forceinline__ HeadSet head_set(const Params& p, int sigma) {
  const int G = p.numHeads / p.numKvHeads;
  const int L = p.numLayouts;
  const int R = min(L, G);
  HeadSet hs;
  hs.kvh = sigma / p.setsPerKvHead;
  const int local = sigma % p.setsPerKvHead;
  hs.residue = local % R;
  const int chunk = local / R;
  // heads of the group with j = residue + L*i, i = chunk*16 .. chunk*16+15, j < G
  const int firstJ = hs.residue + L * chunk * 16;
  const int count = firstJ < G ? (G - firstJ + L - 1) / L : 0;
  hs.nRows = min(16, count);
  hs.firstHead = hs.kvh * G + firstJ;
  hs.headStride = L;
  return hs;
}

template <typename T, int D>
__global__ void __launch_bounds__(kDecodeThreads, 2) decode_split_kernel(const Params p) {
  constexpr int CH = D / 8;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* Ks = reinterpret_cast<T*>(smem_raw);          // [STAGES][64][D]
  T* Vs = Ks + kDecodeStages * 64 * D;             // [STAGES][64][D]

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int split = blockIdx.x;
  const HeadSet hs = head_set(p, blockIdx.y);
  if (hs.nRows == 0) return;

  const int B = p.blockSize;
  const int pos = p.queryStart;  // the one query row's absolute position (kvLength - 1)
  const int blockRow = pos / B;
  int begin, end;
  const int* cols;
  row_range(p, hs.firstHead % p.numLayouts, blockRow, begin, end, cols);
  const int SPB = B / 16;
  const int nDiag = (pos - blockRow * B) / 16 + 1;
  const long long U = end > begin ? (long long)(end - begin - 1) * SPB + nDiag : 0;
  const int uBegin = (int)(U * split / p.numSplits);
  const int uEnd = (int)(U * (split + 1) / p.numSplits);
  const int nSteps = (uEnd - uBegin + 3) / 4;

  const T* kg = reinterpret_cast<const T*>(p.k) + (size_t)hs.kvh * p.kvCapacity * D;
  const T* vg = reinterpret_cast<const T*>(p.v) + (size_t)hs.kvh * p.kvCapacity * D;
  auto sub_key0 = [&](int u) {
    const int ci = u / SPB;
    return __ldg(cols + begin + ci) * B + (u - ci * SPB) * 16;
  };
  auto load_step = [&](int t, int buf) {
    T* ks = Ks + buf * 64 * D;
    T* vs = Vs + buf * 64 * D;
#pragma unroll
    for (int i = tid; i < 64 * CH; i += kDecodeThreads) {
      const int row = i / CH, ch = i % CH;
      const int u = uBegin + t * 4 + (row >> 4);
      int key = u < uEnd ? sub_key0(u) + (row & 15) : -1;
      const bool ok = key >= 0 && key <= pos && key < p.kvLength;
      const size_t off = ok ? (size_t)key * D + ch * 8 : 0;
      cp_async16(smem_u32(ks + swz<D>(row, ch)), kg + off, ok);
      cp_async16(smem_u32(vs + swz<D>(row, ch)), vg + off, ok);
    }
  };

#pragma unroll
  for (int t = 0; t < kDecodeStages - 1; ++t) {
    if (t < nSteps) load_step(t, t);
    cp_async_commit();
  }

  // Q rows: row i is head firstHead + i*headStride (queryLength == 1), rows >= nRows are zero.
  const int g = lane >> 2, quadCol = 2 * (lane & 3);
  uint32_t qa[D / 16][4];
  {
    const T* qg = reinterpret_cast<const T*>(p.q);
    const bool okA = g < hs.nRows, okB = g + 8 < hs.nRows;
    const uint32_t* qA = reinterpret_cast<const uint32_t*>(qg + (size_t)(hs.firstHead + g * hs.headStride) * D);
    const uint32_t* qB = reinterpret_cast<const uint32_t*>(qg + (size_t)(hs.firstHead + (g + 8) * hs.headStride) * D);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const int c = (kk * 16 + quadCol) >> 1;
      qa[kk][0] = okA ? __ldg(qA + c) : 0u;
      qa[kk][1] = okB ? __ldg(qB + c) : 0u;
      qa[kk][2] = okA ? __ldg(qA + c + 4) : 0u;
      qa[kk][3] = okB ? __ldg(qB + c + 4) : 0u;
    }
  }

  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float mA = -INFINITY, mB = -INFINITY, lA = 0.f, lB = 0.f;

  for (int t = 0; t < nSteps; ++t) {
    cp_async_wait<kDecodeStages - 2>();
    __syncthreads();
    if (t + kDecodeStages - 1 < nSteps) load_step(t + kDecodeStages - 1, (t + kDecodeStages - 1) % kDecodeStages);
    cp_async_commit();

    const int u = uBegin + t * 4 + warp;
    if (u >= uEnd) continue;
    const int buf = t % kDecodeStages;
    const T* ks = Ks + buf * 64 * D + warp * 16 * D;
    const T* vs = Vs + buf * 64 * D + warp * 16 * D;
    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t b0, b1, b2, b3;
      const int key = (lane & 7) + ((lane >> 4) << 3);
      // Rows are 16-row aligned inside the stage, so the swizzle of the local row equals the stage row's.
      ldmatrix_x4(smem_u32(ks + swz<D>(key, 2 * kk + ((lane >> 3) & 1))), b0, b1, b2, b3);
      Mma<T>::run(s[0], qa[kk], b0, b1);
      Mma<T>::run(s[1], qa[kk], b2, b3);
    }
    const int key0 = sub_key0(u);
    const bool needMask = key0 + 15 > pos;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[nt][e] * p.scaleLog2;
        if (needMask && key0 + nt * 8 + quadCol + (e & 1) > pos) x = -INFINITY;
        s[nt][e] = x;
      }
    const float mxA = quad_max(fmaxf(fmaxf(s[0][0], s[0][1]), fmaxf(s[1][0], s[1][1])));
    const float mxB = quad_max(fmaxf(fmaxf(s[0][2], s[0][3]), fmaxf(s[1][2], s[1][3])));
    const float mnA = fmaxf(mA, mxA), mnB = fmaxf(mB, mxB);
    const float muA = mnA == -INFINITY ? 0.f : mnA, muB = mnB == -INFINITY ? 0.f : mnB;
    const float alphaA = fast_exp2(mA - muA), alphaB = fast_exp2(mB - muB);
    mA = mnA;
    mB = mnB;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
      s[nt][0] = fast_exp2(s[nt][0] - muA);
      s[nt][1] = fast_exp2(s[nt][1] - muA);
      s[nt][2] = fast_exp2(s[nt][2] - muB);
      s[nt][3] = fast_exp2(s[nt][3] - muB);
    }
    lA = lA * alphaA + s[0][0] + s[0][1] + s[1][0] + s[1][1];
    lB = lB * alphaB + s[0][2] + s[0][3] + s[1][2] + s[1][3];
    uint32_t a[4];
    a[0] = Pack2<T>::pack(s[0][0], s[0][1]);
    a[1] = Pack2<T>::pack(s[0][2], s[0][3]);
    a[2] = Pack2<T>::pack(s[1][0], s[1][1]);
    a[3] = Pack2<T>::pack(s[1][2], s[1][3]);
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      o[2 * dp][0] *= alphaA; o[2 * dp][1] *= alphaA; o[2 * dp][2] *= alphaB; o[2 * dp][3] *= alphaB;
      o[2 * dp + 1][0] *= alphaA; o[2 * dp + 1][1] *= alphaA; o[2 * dp + 1][2] *= alphaB; o[2 * dp + 1][3] *= alphaB;
      uint32_t b0, b1, b2, b3;
      const int key = (lane & 7) + (((lane >> 3) & 1) << 3);
      ldmatrix_x4_trans(smem_u32(vs + swz<D>(key, 2 * dp + (lane >> 4))), b0, b1, b2, b3);
      Mma<T>::run(o[2 * dp], a, b0, b1);
      Mma<T>::run(o[2 * dp + 1], a, b2, b3);
    }
  }
  cp_async_wait<0>();
  __syncthreads();

  // Merge the four warps' partial states through shared memory (the K/V ring is free now).
  float* Ow = reinterpret_cast<float*>(smem_raw);  // [4][16][D]
  float* Mw = Ow + 4 * 16 * D;                     // [4][16]
  float* Lw = Mw + 4 * 16;                         // [4][16]
  lA = quad_sum(lA);
  lB = quad_sum(lB);
#pragma unroll
  for (int dt = 0; dt < D / 8; ++dt) {
    const int col = dt * 8 + quadCol;
    Ow[(warp * 16 + g) * D + col] = o[dt][0];
    Ow[(warp * 16 + g) * D + col + 1] = o[dt][1];
    Ow[(warp * 16 + g + 8) * D + col] = o[dt][2];
    Ow[(warp * 16 + g + 8) * D + col + 1] = o[dt][3];
  }
  if ((lane & 3) == 0) {
    Mw[warp * 16 + g] = mA;
    Mw[warp * 16 + g + 8] = mB;
    Lw[warp * 16 + g] = lA;
    Lw[warp * 16 + g + 8] = lB;
  }
  __syncthreads();
  for (int i = tid; i < hs.nRows * D; i += kDecodeThreads) {
    const int row = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < 4; ++w) M = fmaxf(M, Mw[w * 16 + row]);
    float L = 0.f, O = 0.f;
    if (M != -INFINITY) {
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        const float f = fast_exp2(Mw[w * 16 + row] - M);
        L += Lw[w * 16 + row] * f;
        O += Ow[(w * 16 + row) * D + d] * f;
      }
    }
    const int h = hs.firstHead + row * hs.headStride;
    const size_t slot = (size_t)h * p.numSplits + split;
    p.wsOut[slot * D + d] = L > 0.f ? O / L : 0.f;
    if (d == 0) p.wsLse[slot] = L > 0.f ? M + __log2f(L) : -INFINITY;
  }
}

// Merges the splits of each head: out = sum_s 2^(lse_s - M) O_s / sum_s 2^(lse_s - M).
template <typename T, int D>
__global__ void __launch_bounds__(D) decode_combine_kernel(const Params p) {
  const int h = blockIdx.x, d = threadIdx.x;
  const float* lse = p.wsLse + (size_t)h * p.numSplits;
  const float* po = p.wsOut + (size_t)h * p.numSplits * D;
  float M = -INFINITY;
  for (int s = 0; s < p.numSplits; ++s) M = fmaxf(M, lse[s]);
  float L = 0.f, O = 0.f;
  for (int s = 0; s < p.numSplits; ++s) {
    const float ls = lse[s];
    if (ls == -INFINITY) continue;
    const float f = fast_exp2(ls - M);
    L += f;
    O += f * po[(size_t)s * D + d];
  }
  T* og = reinterpret_cast<T*>(p.out) + (size_t)h * D;
  og[d] = static_cast<T>(O / L);
  if (d == 0 && p.lse != nullptr) p.lse[h] = (M + __log2f(L)) * kLn2;
}

}  // namespace lv
