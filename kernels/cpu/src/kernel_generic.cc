// The kernels built for one instruction set (compiler flags come from binding.gyp).
#include "kernel_common.h"


namespace lv {
namespace generic {
constexpr const char* kIsaName = "generic";
#include "simd_generic.inc"
#include "kernel_impl.inc"
extern const IsaKernels kernels;
const IsaKernels kernels = {kIsaName, Fp32Rows::kPrecision, &process_item_as<Fp32Rows>, nullptr};
}  // namespace generic
}  // namespace lv
