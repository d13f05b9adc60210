// Float kernels for AVX2 + FMA (x86-64 CPUs without AVX-512 VNNI: int8 weights are expanded to float at load).
#include <cmath>

#include "dense.h"

namespace lve {
namespace avx2 {
#define LVE_VW 8
#define LVE_F32_MR 6
#define LVE_F32_NP 1
#include "gemm_f32.inc"
#include "row_ops.inc"
}  // namespace avx2
const GemmKernels kAvx2Kernels = {"avx2", nullptr, &avx2::f32_block, &avx2::kRowOps};
}  // namespace lve
