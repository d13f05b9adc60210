// Which kernel build this CPU can run. x86-64 builds carry AVX-512 and AVX2 kernels next to the portable
// one; the choice is made once at run time (LONGVIEW_CPU_ISA can force a lower one, for tests).
#include <cstdlib>
#include <string>

#include "attention.h"

#if defined(LV_X86_KERNELS) && defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#elif defined(LV_X86_KERNELS)
#include <cpuid.h>
#endif

namespace lv {

#if defined(LV_X86_KERNELS)
#if defined(_MSC_VER)
namespace {
bool cpuid_bit(int leaf, int sub, int reg, int bit) {
  int r[4];
  __cpuidex(r, leaf, sub);
  return (r[reg] >> bit) & 1;
}
bool os_saves(unsigned long long mask) {
  if (!cpuid_bit(1, 0, 2, 27)) return false;  // OSXSAVE
  return (_xgetbv(0) & mask) == mask;
}
}  // namespace
bool cpu_has_avx2_fma() { return os_saves(0x6) && cpuid_bit(7, 0, 1, 5) && cpuid_bit(1, 0, 2, 12); }
bool cpu_has_avx512f() { return os_saves(0xe6) && cpuid_bit(7, 0, 1, 16); }
// AVX512-BF16 (CPUID.(7,1):EAX[5]) and AVX512BW (CPUID.(7,0):EBX[30]), which the bf16 kernels' pair packing uses.
bool cpu_has_avx512_bf16() { return cpu_has_avx512f() && cpuid_bit(7, 0, 1, 30) && cpuid_bit(7, 1, 0, 5); }
#else
// libgcc's detector also checks that the OS saves the wider registers (XGETBV).
bool cpu_has_avx2_fma() { __builtin_cpu_init(); return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool cpu_has_avx512f() { __builtin_cpu_init(); return __builtin_cpu_supports("avx512f"); }
// CPUID directly: older compilers' __builtin_cpu_supports does not know "avx512bf16".
bool cpu_has_avx512_bf16() {
  if (!cpu_has_avx512f()) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 30) & 1)) return false;  // AVX512BW
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 5) & 1);              // AVX512_BF16
}
#endif
#else
bool cpu_has_avx2_fma() { return false; }
bool cpu_has_avx512f() { return false; }
bool cpu_has_avx512_bf16() { return false; }
#endif

const IsaKernels* kernels_by_name(const std::string& name, const std::string& precision) {
  if (precision == "bf16") {
#if defined(LV_X86_KERNELS)
    if (name == "avx512") return avx512_bf16::kernels.process_item && cpu_has_avx512_bf16() ? &avx512_bf16::kernels : nullptr;
#endif
    return nullptr;
  }
  if (precision != "fp32") return nullptr;
#if defined(LV_X86_KERNELS)
  if (name == "avx512") return cpu_has_avx512f() ? &avx512::kernels : nullptr;
  if (name == "avx2") return cpu_has_avx2_fma() ? &avx2::kernels : nullptr;
#endif
  if (name == "generic") return &generic::kernels;
  return nullptr;
}

const IsaKernels& best_kernels() {
  if (const char* forced = std::getenv("LONGVIEW_CPU_ISA")) {
    if (const IsaKernels* k = kernels_by_name(forced)) return *k;
  }
  for (const char* name : {"avx512", "avx2"}) {
    if (const IsaKernels* k = kernels_by_name(name)) return *k;
  }
  return generic::kernels;
}

}  // namespace lv
