// Block-sparse prefill for Hopper (sm_90a): TMA loads + wgmma, warp-specialised (FlashAttention-3 style,
// without its ping-pong scheduling yet).
//
// Warpgroup 0 is the producer: one thread walks the CTA's kept column blocks (CSR, global memory) and issues
// TMA copies of K and V tiles into a STAGES-deep ring guarded by mbarriers. Warpgroups 1..NWG are consumers,
// 64 query rows each: S = Q K^T with both operands in shared memory, online softmax in registers, then
// O += P V with P taken straight from registers (the accumulator layout of S is the A-operand layout).
// Tiles are 128-byte swizzled by TMA; a D=128 row is two 64-element swizzle atoms ("halves").
// Rows of K/V at or past kvLength lie outside the tensor map, so TMA fills them with zeros and nothing
// past the valid cache is read.
#pragma once
#include <cuda.h>
#include "common.cuh"
#include "prefill_mma.cuh"  // fast_exp2
#include "wgmma_ops.cuh"

namespace lv {

// STG: depth of the K/V ring. 3 stages with BM = BN = 128, D = 128 take 225 KB of the 227 KB a CTA may have.
template <typename T, int D, int NWG, int BN, int STG = 2>
struct Sm90Cfg {
  static constexpr int BM = 64 * NWG;
  static constexpr int STAGES = STG;
  static constexpr int THREADS = 128 * (NWG + 1);
  static constexpr int Q_BYTES = BM * D * 2;
  static constexpr int KV_BYTES = BN * D * 2;
  static constexpr int SMEM = 1024 /* alignment slack */ + Q_BYTES + 2 * STAGES * KV_BYTES + 8 * (3 * STAGES + 1);
};

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done) : "r"(bar), "r"(parity) : "memory");
  } while (!done);
}
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n"
      ::"r"(dst), "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2) : "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads/writes of accumulator registers across the asynchronous wgmma.
template <int N> __device__ __forceinline__ void fence_regs(float* r) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
// Shared-memory matrix descriptor, 128-byte swizzle. K-major tiles: sbo = 1024 (8 rows x 128 B), lbo unused.
// N-major tiles (V): lbo = distance between 64-element column groups, sbo = 1024 (8 keys x 128 B).
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  uint64_t d = (uint64_t)((addr & 0x3FFFF) >> 4);
  d |= (uint64_t)((lbo >> 4) & 0x3FFF) << 16;
  d |= (uint64_t)((sbo >> 4) & 0x3FFF) << 32;
  d |= (uint64_t)1 << 62;
  return d;
}
#endif

// VARIANT: 0 = sequential (verified and measured on an H100), 1 = software-pipelined, 2 = pipelined +
// warpgroup ping-pong (both verified, slower than 0 on an H100: docs/benchmarks/gpu-check.md), 3 = sequential with
// the lean softmax (softmax_lean below).
template <typename T, int D, int NWG, int BN, int VARIANT, int STG = 2>
__global__ void __launch_bounds__(128 * (NWG + 1), 1)
    prefill_wgmma_kernel(const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK,
                         const __grid_constant__ CUtensorMap tmV, const Params p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Cfg = Sm90Cfg<T, D, NWG, BN, STG>;
  static_assert(Cfg::SMEM <= 227 * 1024, "shared memory");
  constexpr int BM = Cfg::BM, STAGES = Cfg::STAGES, HALVES = D / 64;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = base;
  const uint32_t sK = sQ + Cfg::Q_BYTES;
  const uint32_t sV = sK + STAGES * Cfg::KV_BYTES;
  const uint32_t barBase = sV + STAGES * Cfg::KV_BYTES;
  auto fullK = [&](int s) { return barBase + 8u * s; };
  auto fullV = [&](int s) { return barBase + 8u * (STAGES + s); };
  auto empty = [&](int s) { return barBase + 8u * (2 * STAGES + s); };
  const uint32_t qBar = barBase + 8u * (3 * STAGES);

  const int firstTile = p.queryStart / BM;
  const int numQTiles = (p.kvLength - 1) / BM + 1 - firstTile;
  int h, fromEnd;
  prefill_tile_of(p, (int)blockIdx.x, numQTiles, h, fromEnd);
  const int tileStart = (firstTile + numQTiles - 1 - fromEnd) * BM;
  const int B = p.blockSize;
  const int blockRow = tileStart / B;
  const int kvh = h / (p.numHeads / p.numKvHeads);
  int begin, end;
  const int* cols;
  row_range(p, h % p.numLayouts, blockRow, begin, end, cols);
  const int subPerBlock = B / BN;
  const int lastPos = min(tileStart + BM, p.kvLength) - 1;
  const int diagSubs = (lastPos - blockRow * B) / BN + 1;
  const int nTiles = end > begin ? (end - begin - 1) * subPerBlock + diagSubs : 0;
  auto tile_key0 = [&](int j) {
    const int ci = j / subPerBlock;
    return __ldg(cols + begin + ci) * B + (j - ci * subPerBlock) * BN;
  };

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(fullK(s), 1);
      mbar_init(fullV(s), 1);
      mbar_init(empty(s), NWG * 4);
    }
    mbar_init(qBar, 1);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  const int wg = threadIdx.x / 128;
  if (wg == 0) {
    if constexpr (NWG == 2) {
      // The pipelined variants hold two P fragments at once and need 240 registers to stay spill-free.
      if constexpr (VARIANT == 0 || VARIANT == 3) asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
      else asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
    }
    if (threadIdx.x == 0) {
      mbar_expect_tx(qBar, Cfg::Q_BYTES);
#pragma unroll
      for (int hf = 0; hf < HALVES; ++hf) tma_load_3d(sQ + hf * BM * 128, &tmQ, qBar, hf * 64, tileStart - p.queryStart, h);
      for (int j = 0; j < nTiles; ++j) {
        const int s = j % STAGES;
        mbar_wait(empty(s), ((j / STAGES) & 1) ^ 1);
        const int k0 = tile_key0(j);
        mbar_expect_tx(fullK(s), Cfg::KV_BYTES);
#pragma unroll
        for (int hf = 0; hf < HALVES; ++hf) tma_load_3d(sK + s * Cfg::KV_BYTES + hf * BN * 128, &tmK, fullK(s), hf * 64, k0, kvh);
        mbar_expect_tx(fullV(s), Cfg::KV_BYTES);
#pragma unroll
        for (int hf = 0; hf < HALVES; ++hf) tma_load_3d(sV + s * Cfg::KV_BYTES + hf * BN * 128, &tmV, fullV(s), hf * 64, k0, kvh);
      }
    }
  } else {
    if constexpr (NWG == 2) {
      if constexpr (VARIANT == 0 || VARIANT == 3) asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
      else asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");
    }
    const int cw = wg - 1;
    const int t = threadIdx.x % 128, wq = t >> 5, lane = t & 31;
    const int rowMinWarp = tileStart + cw * 64 + wq * 16;
    const int rowA = rowMinWarp + (lane >> 2), rowB = rowA + 8;
    const int quadCol = 2 * (lane & 3);
    float o[D / 2];
    float sc[BN / 2];
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
    float mA = -INFINITY, mB = -INFINITY, lA = 0.f, lB = 0.f;

    auto issue_s = [&](int s) {
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const uint64_t da = smem_desc(sQ + (kk >> 2) * BM * 128 + cw * 64 * 128 + (kk & 3) * 32, 16, 1024);
        const uint64_t db = smem_desc(sK + s * Cfg::KV_BYTES + (kk >> 2) * BN * 128 + (kk & 3) * 32, 16, 1024);
        WgmmaSS<T, BN>::template run<0>(sc, da, db, kk > 0 ? 1 : 0);
      }
      wgmma_commit();
    };
    auto issue_pv = [&](int s, uint32_t (&pa)[BN / 16][4]) {
      fence_regs<D / 2>(o);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        const uint64_t db = smem_desc(sV + s * Cfg::KV_BYTES + kk * 16 * 128, BN * 128, 1024);
        WgmmaRS<T, D>::template run<1>(o, pa[kk], db, 1);
      }
      wgmma_commit();
    };
    // Eight probabilities of one 16-key step (rows A: e8[0,1,4,5], rows B: e8[2,3,6,7]) as an MMA A fragment.
    auto pack_p = [](uint32_t (&frag)[4], const float (&e8)[8]) {
      frag[0] = Pack2<T>::pack(e8[0], e8[1]);
      frag[1] = Pack2<T>::pack(e8[2], e8[3]);
      frag[2] = Pack2<T>::pack(e8[4], e8[5]);
      frag[3] = Pack2<T>::pack(e8[6], e8[7]);
    };
    // Online softmax of the S tile in `sc` (tile j): updates m/l, writes P (as MMA A fragments) to `pa` and
    // returns the factors the output must be rescaled by before P V is added.
    auto softmax = [&](int j, uint32_t (&pa)[BN / 16][4], float& alphaA, float& alphaB) {
      // Reads `sc` and never writes it: the pipelined variants have a P V wgmma in flight here, and ptxas
      // serialises wgmmas when other instructions define accumulator registers inside a pipeline stage.
      const int k0 = tile_key0(j);
      const bool needMask = k0 + BN - 1 > rowMinWarp;
      auto masked = [&](int i, int e) {
        return needMask && k0 + 8 * i + quadCol + (e & 1) > (e < 2 ? rowA : rowB);
      };
      float mxA = -INFINITY, mxB = -INFINITY;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) {
        mxA = fmaxf(mxA, fmaxf(masked(i, 0) ? -INFINITY : sc[4 * i], masked(i, 1) ? -INFINITY : sc[4 * i + 1]));
        mxB = fmaxf(mxB, fmaxf(masked(i, 2) ? -INFINITY : sc[4 * i + 2], masked(i, 3) ? -INFINITY : sc[4 * i + 3]));
      }
      mxA = quad_max(mxA) * p.scaleLog2;
      mxB = quad_max(mxB) * p.scaleLog2;
      const float mnA = fmaxf(mA, mxA), mnB = fmaxf(mB, mxB);
      // A row with every key masked so far keeps max -inf; use 0 so exp2 gives 0 rather than NaN.
      const float muA = mnA == -INFINITY ? 0.f : mnA, muB = mnB == -INFINITY ? 0.f : mnB;
      alphaA = fast_exp2(mA - muA);
      alphaB = fast_exp2(mB - muB);
      mA = mnA;
      mB = mnB;
      float sumA = 0.f, sumB = 0.f;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        float e8[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) {
          const int i = 2 * kk + (u >> 2), e = u & 3;
          const float x = fast_exp2(fmaf(sc[4 * i + e], p.scaleLog2, -(e < 2 ? muA : muB)));
          e8[u] = masked(i, e) ? 0.f : x;
        }
        sumA += e8[0] + e8[1] + e8[4] + e8[5];
        sumB += e8[2] + e8[3] + e8[6] + e8[7];
        pack_p(pa[kk], e8);
      }
      lA = lA * alphaA + sumA;
      lB = lB * alphaB + sumB;
    };
    // The softmax the sequential variant was verified and measured with (scales S in place).
    auto softmax_inplace = [&](int j, uint32_t (&pa)[BN / 16][4], float& alphaA, float& alphaB) {
      const int k0 = tile_key0(j);
      const bool needMask = k0 + BN - 1 > rowMinWarp;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float x = sc[4 * i + e] * p.scaleLog2;
          if (needMask && k0 + 8 * i + quadCol + (e & 1) > (e < 2 ? rowA : rowB)) x = -INFINITY;
          sc[4 * i + e] = x;
        }
      }
      float mxA = -INFINITY, mxB = -INFINITY;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) {
        mxA = fmaxf(mxA, fmaxf(sc[4 * i], sc[4 * i + 1]));
        mxB = fmaxf(mxB, fmaxf(sc[4 * i + 2], sc[4 * i + 3]));
      }
      mxA = quad_max(mxA);
      mxB = quad_max(mxB);
      const float mnA = fmaxf(mA, mxA), mnB = fmaxf(mB, mxB);
      const float muA = mnA == -INFINITY ? 0.f : mnA, muB = mnB == -INFINITY ? 0.f : mnB;
      alphaA = fast_exp2(mA - muA);
      alphaB = fast_exp2(mB - muB);
      mA = mnA;
      mB = mnB;
      float sumA = 0.f, sumB = 0.f;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) {
        sc[4 * i] = fast_exp2(sc[4 * i] - muA);
        sc[4 * i + 1] = fast_exp2(sc[4 * i + 1] - muA);
        sc[4 * i + 2] = fast_exp2(sc[4 * i + 2] - muB);
        sc[4 * i + 3] = fast_exp2(sc[4 * i + 3] - muB);
        sumA += sc[4 * i] + sc[4 * i + 1];
        sumB += sc[4 * i + 2] + sc[4 * i + 3];
      }
      lA = lA * alphaA + sumA;
      lB = lB * alphaB + sumB;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        pa[kk][0] = Pack2<T>::pack(sc[8 * kk], sc[8 * kk + 1]);
        pa[kk][1] = Pack2<T>::pack(sc[8 * kk + 2], sc[8 * kk + 3]);
        pa[kk][2] = Pack2<T>::pack(sc[8 * kk + 4], sc[8 * kk + 5]);
        pa[kk][3] = Pack2<T>::pack(sc[8 * kk + 6], sc[8 * kk + 7]);
      }
    };
    // The lean softmax (VARIANT 3, sequential like 0): with BM = BN = D = 128 the softmax issues about as many
    // instructions as the two GEMMs take tensor-core cycles, so every instruction per score counts. It
    // (1) masks only on the diagonal tile (warp-uniform branch), (2) finds the max on raw scores and folds the
    // scale into the exponent's FFMA (scaleLog2 > 0: the host sends a non-positive scale to VARIANT 0), and
    // (3) moves a row's running max only when the tile's max exceeds it by more than kLazyMaxLog2, so the
    // output is rescaled only on the rare tiles where some row's max jumps (FlashAttention-4's conditional
    // rescaling). With a stale max, P <= 2^kLazyMaxLog2 = 256: exact in bf16/fp16's relative precision, no
    // overflow in the fp32 sums, and O / l and lse = m + log2(l) are unchanged because O and l share the max.
    // Returns whether this thread's rows moved (the output must then be rescaled by alphaA/alphaB).
    constexpr float kLazyMaxLog2 = 8.f;
    auto softmax_lean = [&](int j, uint32_t (&pa)[BN / 16][4], float& alphaA, float& alphaB) -> bool {
      const int k0 = tile_key0(j);
      if (k0 + BN - 1 > rowMinWarp) {
#pragma unroll
        for (int i = 0; i < BN / 8; ++i)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (k0 + 8 * i + quadCol + (e & 1) > (e < 2 ? rowA : rowB)) sc[4 * i + e] = -INFINITY;
      }
      float mxA = -INFINITY, mxB = -INFINITY;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) {
        mxA = fmaxf(mxA, fmaxf(sc[4 * i], sc[4 * i + 1]));
        mxB = fmaxf(mxB, fmaxf(sc[4 * i + 2], sc[4 * i + 3]));
      }
      mxA = quad_max(mxA) * p.scaleLog2;
      mxB = quad_max(mxB) * p.scaleLog2;
      // -inf + 8 is -inf: the first tile with any unmasked key always sets the max.
      const bool moveA = mxA > mA + kLazyMaxLog2, moveB = mxB > mB + kLazyMaxLog2;
      alphaA = alphaB = 1.f;
      if (moveA) {
        alphaA = fast_exp2(mA - mxA);
        mA = mxA;
      }
      if (moveB) {
        alphaB = fast_exp2(mB - mxB);
        mB = mxB;
      }
      // A row with every key masked so far keeps max -inf; use 0 so exp2 gives 0 rather than NaN.
      const float nmA = mA == -INFINITY ? 0.f : -mA, nmB = mB == -INFINITY ? 0.f : -mB;
      float sumA = 0.f, sumB = 0.f;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        float e8[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) {
          const int i = 2 * kk + (u >> 2), e = u & 3;
          e8[u] = fast_exp2(fmaf(sc[4 * i + e], p.scaleLog2, e < 2 ? nmA : nmB));
        }
        sumA += (e8[0] + e8[1]) + (e8[4] + e8[5]);
        sumB += (e8[2] + e8[3]) + (e8[6] + e8[7]);
        pack_p(pa[kk], e8);
      }
      lA = fmaf(lA, alphaA, sumA);
      lB = fmaf(lB, alphaB, sumB);
      return moveA || moveB;
    };
    auto rescale = [&](float alphaA, float alphaB) {
#pragma unroll
      for (int i = 0; i < D / 8; ++i) {
        o[4 * i] *= alphaA;
        o[4 * i + 1] *= alphaA;
        o[4 * i + 2] *= alphaB;
        o[4 * i + 3] *= alphaB;
      }
    };
    auto release = [&](int s) {
      __syncwarp();
      if (lane == 0) mbar_arrive(empty(s));
    };
    mbar_wait(qBar, 0);

    if constexpr (VARIANT == 0 || VARIANT == 3) {
      // S, softmax, P V strictly in sequence; the two consumer warpgroups overlap each other only by chance.
      for (int j = 0; j < nTiles; ++j) {
        const int s = j % STAGES;
        const uint32_t ph = (j / STAGES) & 1;
        mbar_wait(fullK(s), ph);
        issue_s(s);
        wgmma_wait<0>();
        fence_regs<BN / 2>(sc);
        uint32_t pa[BN / 16][4];
        float alA, alB;
        if constexpr (VARIANT == 3) {
          // The rescale is skipped unless a row of this thread moved its max.
          if (softmax_lean(j, pa, alA, alB)) rescale(alA, alB);
        } else {
          softmax_inplace(j, pa, alA, alB);
          rescale(alA, alB);
        }
        mbar_wait(fullV(s), ph);
        issue_pv(s, pa);
        wgmma_wait<0>();
        fence_regs<D / 2>(o);
        release(s);
      }
    } else if (nTiles > 0) {
      // Software-pipelined (FlashAttention-3's intra-warpgroup overlap): S of tile j+1 and P V of tile j are
      // in flight on the tensor cores while this warpgroup computes the softmax of tile j+1.
      // VARIANT 2 adds ping-pong: the two consumer warpgroups take turns issuing their GEMMs (named barriers
      // 1 and 2), so one's softmax overlaps the other's GEMMs.
      constexpr bool PINGPONG = VARIANT == 2 && NWG == 2;
      const int myBar = 1 + cw, otherBar = 2 - cw;
      if constexpr (PINGPONG) {
        if (cw == 1) asm volatile("bar.arrive %0, 256;\n" ::"r"(otherBar));
      }
      uint32_t paCur[BN / 16][4], paNext[BN / 16][4];
      float alA, alB;
      mbar_wait(fullK(0), 0);
      issue_s(0);
      wgmma_wait<0>();
      fence_regs<BN / 2>(sc);
      softmax(0, paCur, alA, alB);
      for (int j = 0; j < nTiles; ++j) {
        const int s = j % STAGES;
        const uint32_t ph = (j / STAGES) & 1;
        const bool more = j + 1 < nTiles;
        if constexpr (PINGPONG) asm volatile("bar.sync %0, 256;\n" ::"r"(myBar));
        if (more) {
          mbar_wait(fullK((j + 1) % STAGES), ((j + 1) / STAGES) & 1);
          issue_s((j + 1) % STAGES);
        }
        mbar_wait(fullV(s), ph);
        issue_pv(s, paCur);
        if constexpr (PINGPONG) {
          if (cw == 0 || more) asm volatile("bar.arrive %0, 256;\n" ::"r"(otherBar));
        }
        wgmma_wait<1>();  // unconditional: ptxas tracks the pipeline stage across the branch otherwise
        if (more) {
          fence_regs<BN / 2>(sc);
          softmax(j + 1, paNext, alA, alB);
        }
        wgmma_wait<0>();
        fence_regs<D / 2>(o);
#pragma unroll
        for (int kk = 0; kk < BN / 16; ++kk)
          asm volatile("" : "+r"(paCur[kk][0]), "+r"(paCur[kk][1]), "+r"(paCur[kk][2]), "+r"(paCur[kk][3])::"memory");
        release(s);
        if (more) {
          rescale(alA, alB);
#pragma unroll
          for (int kk = 0; kk < BN / 16; ++kk)
#pragma unroll
            for (int e = 0; e < 4; ++e) paCur[kk][e] = paNext[kk][e];
        }
      }
    }

    lA = quad_sum(lA);
    lB = quad_sum(lB);
    const float invA = lA > 0.f ? 1.f / lA : 0.f, invB = lB > 0.f ? 1.f / lB : 0.f;
    T* og = reinterpret_cast<T*>(p.out) + (size_t)h * p.queryLength * D;
    const bool okA = rowA >= p.queryStart && rowA < p.kvLength;
    const bool okB = rowB >= p.queryStart && rowB < p.kvLength;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      const int col = i * 8 + quadCol;
      if (okA) *reinterpret_cast<uint32_t*>(og + (size_t)(rowA - p.queryStart) * D + col) = Pack2<T>::pack(o[4 * i] * invA, o[4 * i + 1] * invA);
      if (okB) *reinterpret_cast<uint32_t*>(og + (size_t)(rowB - p.queryStart) * D + col) = Pack2<T>::pack(o[4 * i + 2] * invB, o[4 * i + 3] * invB);
    }
    if (p.lse != nullptr && (lane & 3) == 0) {
      float* lg = p.lse + (size_t)h * p.queryLength;
      if (okA) lg[rowA - p.queryStart] = (mA + __log2f(lA)) * kLn2;
      if (okB) lg[rowB - p.queryStart] = (mB + __log2f(lB)) * kLn2;
    }
  }
#else
  // Built for a target without wgmma: the host never launches this (it checks the function's PTX version).
  __trap();
#endif
}

}  // namespace lv
