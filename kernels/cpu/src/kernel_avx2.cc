// The kernels built for one instruction set (compiler flags come from binding.gyp).
#include "kernel_common.h"
#include <immintrin.h>

namespace lv {
namespace avx2 {
constexpr const char* kIsaName = "avx2";
#include "simd_avx2.inc"
#include "kernel_impl.inc"
}  // namespace avx2
}  // namespace lv
