// Block-sparse prefill with mma.sync (FlashAttention-2 style): sm_80 and later, the fallback on every GPU.
//
// One CTA = BM query rows of one head, all inside one layout block row (BM <= blockSize), so the CTA walks
// exactly that row's kept column blocks, read from the CSR layout in global memory. Keys are consumed in
// tiles of BN (BN <= blockSize) with a two-stage cp.async ring; each warp owns 16 query rows and keeps
// its running max / sum / output in registers (online softmax in the exp2 domain).
#pragma once
#include "common.cuh"

namespace lv {

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

template <typename T, int D, int BM, int BN, int MINB>
__global__ void __launch_bounds__(BM * 2, MINB) prefill_mma_kernel(const Params p) {
  constexpr int NW = BM / 16;
  constexpr int NT = NW * 32;
  constexpr int CH = D / 8;  // 16-byte chunks per row
  static_assert(D == 64 || D == 128, "head dim");
  static_assert(BN % 16 == 0 && BM % 16 == 0, "tile");

  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* Qs = reinterpret_cast<T*>(smem_raw);
  T* Ks = Qs + BM * D;      // [2][BN][D]
  T* Vs = Ks + 2 * BN * D;  // [2][BN][D]

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int firstTile = p.queryStart / BM;
  const int numQTiles = (p.kvLength - 1) / BM + 1 - firstTile;
  int h, fromEnd;
  prefill_tile_of(p, (int)blockIdx.x, numQTiles, h, fromEnd);
  const int tileStart = (firstTile + numQTiles - 1 - fromEnd) * BM;
  const int B = p.blockSize;
  const int blockRow = tileStart / B;
  const int group = p.numHeads / p.numKvHeads;
  const int kvh = h / group;

  int begin, end;
  const int* cols;
  row_range(p, h % p.numLayouts, blockRow, begin, end, cols);
  const int subPerBlock = B / BN;
  const int lastPos = min(tileStart + BM, p.kvLength) - 1;
  // The diagonal block (last in the row) is only needed up to the tile's last query row.
  const int diagSubs = (lastPos - blockRow * B) / BN + 1;
  const int nTiles = end > begin ? (end - begin - 1) * subPerBlock + diagSubs : 0;

  const T* qg = reinterpret_cast<const T*>(p.q) + (size_t)h * p.queryLength * D;
  const T* kg = reinterpret_cast<const T*>(p.k) + (size_t)kvh * p.kvCapacity * D;
  const T* vg = reinterpret_cast<const T*>(p.v) + (size_t)kvh * p.kvCapacity * D;

  auto tile_key0 = [&](int j) {
    const int ci = j / subPerBlock;
    return __ldg(cols + begin + ci) * B + (j - ci * subPerBlock) * BN;
  };
  auto load_kv = [&](int j, int buf) {
    const int k0 = tile_key0(j);
    T* ks = Ks + buf * BN * D;
    T* vs = Vs + buf * BN * D;
#pragma unroll
    for (int i = tid; i < BN * CH; i += NT) {
      const int row = i / CH, ch = i % CH;
      const int key = k0 + row;
      const bool ok = key < p.kvLength;  // never touch the cache tail (it may hold garbage or NaN)
      const size_t off = ok ? (size_t)key * D + ch * 8 : 0;
      cp_async16(smem_u32(ks + swz<D>(row, ch)), kg + off, ok);
      cp_async16(smem_u32(vs + swz<D>(row, ch)), vg + off, ok);
    }
  };

  // Q tile (rows before queryStart or past kvLength are zero and never stored).
#pragma unroll
  for (int i = tid; i < BM * CH; i += NT) {
    const int row = i / CH, ch = i % CH;
    const int pos = tileStart + row;
    const bool ok = pos >= p.queryStart && pos < p.kvLength;
    const size_t off = ok ? (size_t)(pos - p.queryStart) * D + ch * 8 : 0;
    cp_async16(smem_u32(Qs + swz<D>(row, ch)), qg + off, ok);
  }
  if (nTiles > 0) load_kv(0, 0);
  cp_async_commit();

  const int rowA = tileStart + warp * 16 + (lane >> 2);
  const int rowB = rowA + 8;
  const int quadCol = 2 * (lane & 3);

  uint32_t qa[D / 16][4];
  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float mA = -INFINITY, mB = -INFINITY, lA = 0.f, lB = 0.f;

  for (int j = 0; j < nTiles; ++j) {
    cp_async_wait<0>();
    __syncthreads();
    if (j == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const int row = warp * 16 + (lane & 15);
        ldmatrix_x4(smem_u32(Qs + swz<D>(row, 2 * kk + (lane >> 4))), qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3]);
      }
    }
    if (j + 1 < nTiles) load_kv(j + 1, (j + 1) & 1);
    cp_async_commit();

    const T* ks = Ks + (j & 1) * BN * D;
    const T* vs = Vs + (j & 1) * BN * D;
    float s[BN / 8][4];
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t b0, b1, b2, b3;
        const int key = np * 16 + (lane & 7) + ((lane >> 4) << 3);
        ldmatrix_x4(smem_u32(ks + swz<D>(key, 2 * kk + ((lane >> 3) & 1))), b0, b1, b2, b3);
        Mma<T>::run(s[2 * np], qa[kk], b0, b1);
        Mma<T>::run(s[2 * np + 1], qa[kk], b2, b3);
      }
    }

    const int k0 = tile_key0(j);
    const bool needMask = k0 + BN - 1 > tileStart + warp * 16;
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[nt][e] * p.scaleLog2;
        if (needMask) {
          const int key = k0 + nt * 8 + quadCol + (e & 1);
          if (key > (e < 2 ? rowA : rowB)) x = -INFINITY;
        }
        s[nt][e] = x;
      }
    }

    float mxA = -INFINITY, mxB = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt) {
      mxA = fmaxf(mxA, fmaxf(s[nt][0], s[nt][1]));
      mxB = fmaxf(mxB, fmaxf(s[nt][2], s[nt][3]));
    }
    mxA = quad_max(mxA);
    mxB = quad_max(mxB);
    const float mnA = fmaxf(mA, mxA), mnB = fmaxf(mB, mxB);
    // A row with every key masked so far keeps max -inf; use 0 so exp2 gives 0 rather than NaN.
    const float muA = mnA == -INFINITY ? 0.f : mnA;
    const float muB = mnB == -INFINITY ? 0.f : mnB;
    const float alphaA = fast_exp2(mA - muA), alphaB = fast_exp2(mB - muB);
    mA = mnA;
    mB = mnB;
    lA *= alphaA;
    lB *= alphaB;
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt) {
      s[nt][0] = fast_exp2(s[nt][0] - muA);
      s[nt][1] = fast_exp2(s[nt][1] - muA);
      s[nt][2] = fast_exp2(s[nt][2] - muB);
      s[nt][3] = fast_exp2(s[nt][3] - muB);
      lA += s[nt][0] + s[nt][1];
      lB += s[nt][2] + s[nt][3];
    }
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
      o[dt][0] *= alphaA;
      o[dt][1] *= alphaA;
      o[dt][2] *= alphaB;
      o[dt][3] *= alphaB;
    }

#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[4];
      a[0] = Pack2<T>::pack(s[2 * kk][0], s[2 * kk][1]);
      a[1] = Pack2<T>::pack(s[2 * kk][2], s[2 * kk][3]);
      a[2] = Pack2<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      a[3] = Pack2<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b0, b1, b2, b3;
        const int key = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
        ldmatrix_x4_trans(smem_u32(vs + swz<D>(key, 2 * dp + (lane >> 4))), b0, b1, b2, b3);
        Mma<T>::run(o[2 * dp], a, b0, b1);
        Mma<T>::run(o[2 * dp + 1], a, b2, b3);
      }
    }
  }
  cp_async_wait<0>();

  lA = quad_sum(lA);
  lB = quad_sum(lB);
  const float invA = lA > 0.f ? 1.f / lA : 0.f, invB = lB > 0.f ? 1.f / lB : 0.f;
  T* og = reinterpret_cast<T*>(p.out) + (size_t)h * p.queryLength * D;
  const bool okA = rowA >= p.queryStart && rowA < p.kvLength;
  const bool okB = rowB >= p.queryStart && rowB < p.kvLength;
#pragma unroll
  for (int dt = 0; dt < D / 8; ++dt) {
    const int col = dt * 8 + quadCol;
    if (okA) *reinterpret_cast<uint32_t*>(og + (size_t)(rowA - p.queryStart) * D + col) = Pack2<T>::pack(o[dt][0] * invA, o[dt][1] * invA);
    if (okB) *reinterpret_cast<uint32_t*>(og + (size_t)(rowB - p.queryStart) * D + col) = Pack2<T>::pack(o[dt][2] * invB, o[dt][3] * invB);
  }
  if (p.lse != nullptr && (lane & 3) == 0) {
    float* lg = p.lse + (size_t)h * p.queryLength;
    if (okA) lg[rowA - p.queryStart] = (mA + __log2f(lA)) * kLn2;
    if (okB) lg[rowB - p.queryStart] = (mB + __log2f(lB)) * kLn2;
  }
}

template <typename T, int D, int BM, int BN>
constexpr int prefill_mma_smem_bytes() {
  return (BM + 4 * BN) * D * (int)sizeof(T);
}

}  // namespace lv
