// The kernels built for one instruction set (compiler flags come from binding.gyp).
#include "kernel_common.h"
#include <immintrin.h>

namespace lv {
namespace avx512 {
constexpr const char* kIsaName = "avx512";
#include "simd_avx512.inc"
#include "kernel_impl.inc"
}  // namespace avx512
}  // namespace lv
