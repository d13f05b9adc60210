// Portable float kernels (any CPU the compiler targets; 4-wide vectors, SSE2 / NEON class).
#include <cmath>

#include "dense.h"

namespace lve {
namespace generic {
#define LVE_VW 4
#define LVE_F32_MR 3
#define LVE_F32_NP 1
#include "gemm_f32.inc"
#include "row_ops.inc"
}  // namespace generic
const GemmKernels kGenericKernels = {"generic", nullptr, &generic::f32_block, &generic::kRowOps};
}  // namespace lve
