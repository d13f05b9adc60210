// AVX-512 kernels: int8 through VNNI (vpdpbusd: 64 u8·s8 products summed into 16 int32 lanes per instruction),
// float through the portable float kernels compiled for AVX-512F. Compiled with -mavx512f -mavx512bw -mavx512vnni.
#include <immintrin.h>

#include <cmath>

#include "dense.h"

// Small fixed loops over rows and panels must be unrolled so the accumulators live in registers.
#define LVE_UNROLL _Pragma("GCC unroll 8")

// acc += u8·s8 dot products. Inline assembly ties the accumulator to one register: GCC 12's intrinsic makes a
// copy per call and spills the tile to the stack.
static inline void dpbusd(__m512i& acc, __m512i a, __m512i w) {
#if defined(__GNUC__)
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
#else
  acc = _mm512_dpbusd_epi32(acc, a, w);
#endif
}

namespace lve {
namespace avx512 {
#define LVE_VW 16
#define LVE_F32_MR 6
#define LVE_F32_NP 2
#include "gemm_f32.inc"
#include "row_ops.inc"

// MR rows × kPanelsPerBlock panels (64 columns); int32 sums per group of kGroup inputs, float accumulation.
// MR = 4 keeps the 16 int32 accumulators, 4 weight vectors and a broadcast in registers (MR = 6 spills).
template <int MR>
static void q8_vnni_tile(const QuantRows& a, const PackedMatrix& w, int m0, int block, float* c, size_t ldc, bool accumulate) {
  constexpr int NP = kPanelsPerBlock;
  const int Kp = w.Kp, groups = Kp / kGroup, K4 = Kp / 4;
  const int p0 = block * NP;
  const int8_t* wp[NP];
  const int32_t* comp[NP];
  LVE_UNROLL for (int j = 0; j < NP; ++j) {
    wp[j] = w.data.as<int8_t>() + static_cast<size_t>(p0 + j) * K4 * 64;
    comp[j] = w.comp.data() + static_cast<size_t>(p0 + j) * groups * kPanel;
  }
  const uint8_t* arow[MR];
  const float* srow[MR];
  LVE_UNROLL for (int r = 0; r < MR; ++r) {
    arow[r] = a.q.as<uint8_t>() + static_cast<size_t>(m0 + r) * Kp;
    srow[r] = a.scale.data() + static_cast<size_t>(m0 + r) * groups;
  }
  __m512 facc[MR][NP];
  LVE_UNROLL for (int r = 0; r < MR; ++r)
    LVE_UNROLL for (int j = 0; j < NP; ++j) facc[r][j] = _mm512_setzero_ps();
  for (int g = 0; g < groups; ++g) {
    __m512i acc[MR][NP];
    LVE_UNROLL for (int r = 0; r < MR; ++r)
      LVE_UNROLL for (int j = 0; j < NP; ++j) acc[r][j] = _mm512_setzero_si512();
    const int k4end = (g + 1) * (kGroup / 4);
    for (int k4 = g * (kGroup / 4); k4 < k4end; ++k4) {
      __m512i wv[NP];
      LVE_UNROLL for (int j = 0; j < NP; ++j) wv[j] = _mm512_load_si512(wp[j] + static_cast<size_t>(k4) * 64);
      LVE_UNROLL for (int r = 0; r < MR; ++r) {
        int32_t a4;
        __builtin_memcpy(&a4, arow[r] + 4 * k4, 4);
        const __m512i av = _mm512_set1_epi32(a4);
        LVE_UNROLL for (int j = 0; j < NP; ++j) dpbusd(acc[r][j], av, wv[j]);
      }
    }
    LVE_UNROLL for (int j = 0; j < NP; ++j) {
      const __m512i cg = _mm512_loadu_si512(comp[j] + static_cast<size_t>(g) * kPanel);
      LVE_UNROLL for (int r = 0; r < MR; ++r)
        facc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][j], cg)), _mm512_set1_ps(srow[r][g]), facc[r][j]);
    }
  }
  LVE_UNROLL for (int j = 0; j < NP; ++j) {
    const int col0 = (p0 + j) * kPanel;
    if (col0 >= w.N) break;
    const int n = w.N - col0 < kPanel ? w.N - col0 : kPanel;
    const __mmask16 mask = n == kPanel ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
    const __m512 ws = _mm512_loadu_ps(w.scale.data() + col0);
    LVE_UNROLL for (int r = 0; r < MR; ++r) {
      float* dst = c + static_cast<size_t>(m0 + r) * ldc + col0;
      __m512 v = _mm512_mul_ps(facc[r][j], ws);
      if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, dst));
      _mm512_mask_storeu_ps(dst, mask, v);
    }
  }
}

static void q8_vnni_block(const QuantRows& a, const PackedMatrix& w, int m0, int m1, int block, float* c, size_t ldc, bool accumulate) {
  int m = m0;
  for (; m + 4 <= m1; m += 4) q8_vnni_tile<4>(a, w, m, block, c, ldc, accumulate);
  switch (m1 - m) {
    case 0: break;
    case 1: q8_vnni_tile<1>(a, w, m, block, c, ldc, accumulate); break;
    case 2: q8_vnni_tile<2>(a, w, m, block, c, ldc, accumulate); break;
    default: q8_vnni_tile<3>(a, w, m, block, c, ldc, accumulate); break;
  }
}
}  // namespace avx512
const GemmKernels kAvx512VnniKernels = {"avx512vnni", &avx512::q8_vnni_block, &avx512::f32_block, &avx512::kRowOps};
}  // namespace lve
