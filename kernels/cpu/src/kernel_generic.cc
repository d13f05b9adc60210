// The kernels built for one instruction set (compiler flags come from binding.gyp).
#include "kernel_common.h"


namespace lv {
namespace generic {
constexpr const char* kIsaName = "generic";
#include "simd_generic.inc"
#include "kernel_impl.inc"
}  // namespace generic
}  // namespace lv
