// The kernels built for one instruction set (compiler flags come from binding.gyp).
#include "kernel_common.h"
#include <immintrin.h>

namespace lv {
namespace avx512 {
constexpr const char* kIsaName = "avx512";
#include "simd_avx512.inc"
#include "kernel_impl.inc"
extern const IsaKernels kernels;
const IsaKernels kernels = {kIsaName, Fp32Rows::kPrecision, &process_item_as<Fp32Rows>, nullptr};
}  // namespace avx512
}  // namespace lv
