// The bf16 prefill kernels (AVX512-BF16; compiler flags come from binding.gyp): the float32 AVX-512 build's
// planning, softmax and decode path with Bf16Rows for the row-parallel block steps. Picked only on request
// (precision "bf16"); float32 stays the default. A compiler that does not target AVX512-BF16 here (MSVC)
// leaves process_item null, and the dispatch reports bf16 as unsupported.
#include "kernel_common.h"
#include <immintrin.h>

namespace lv {
namespace avx512_bf16 {
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
constexpr const char* kIsaName = "avx512";
#include "simd_avx512.inc"
#include "kernel_impl.inc"
#include "kernel_bf16.inc"
extern const IsaKernels kernels;
const IsaKernels kernels = {kIsaName, Bf16Rows::kPrecision, &process_item_as<Bf16Rows>, &Bf16Rows::cache_slot_floats};
#else
extern const IsaKernels kernels;
const IsaKernels kernels = {"avx512", "bf16", nullptr, nullptr};
#endif
}  // namespace avx512_bf16
}  // namespace lv
