// Weight packing, activation quantization and the threaded GEMM drivers; the kernels are per ISA.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>

#include "dense.h"

namespace lve {

AlignedBytes::AlignedBytes(size_t bytes) { resize(bytes); }
AlignedBytes::~AlignedBytes() {
  if (ptr) ::operator delete(ptr, std::align_val_t(64));
}
AlignedBytes& AlignedBytes::operator=(AlignedBytes&& o) noexcept {
  if (this != &o) {
    if (ptr) ::operator delete(ptr, std::align_val_t(64));
    ptr = o.ptr;
    size = o.size;
    o.ptr = nullptr;
    o.size = 0;
  }
  return *this;
}
void AlignedBytes::resize(size_t bytes) {
  if (bytes <= size) return;
  if (ptr) ::operator delete(ptr, std::align_val_t(64));
  ptr = ::operator new((bytes + 63) / 64 * 64, std::align_val_t(64));
  size = bytes;
}

void QuantRows::reserve(int rows, int kp) {
  M = rows;
  Kp = kp;
  q.resize(static_cast<size_t>(rows) * kp);
  scale.resize(static_cast<size_t>(rows) * (kp / kGroup));
}

namespace {

bool cpu_has_vnni512() {
#if defined(LVE_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

bool cpu_has_avx2() {
#if defined(LVE_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const GemmKernels* kernels_named(const std::string& name) {
#if defined(LVE_X86)
  if (name == "avx512vnni" && cpu_has_vnni512()) return &kAvx512VnniKernels;
  if (name == "avx2" && cpu_has_avx2()) return &kAvx2Kernels;
#endif
  if (name == "generic") return &kGenericKernels;
  return nullptr;
}

const GemmKernels* best_kernels() {
  for (const char* n : {"avx512vnni", "avx2", "generic"})
    if (const GemmKernels* k = kernels_named(n)) return k;
  return &kGenericKernels;
}

const GemmKernels* g_kernels = best_kernels();

int round_up(int n, int m) { return (n + m - 1) / m * m; }

}  // namespace

const char* gemm_isa() { return g_kernels->name; }
const RowOps& row_ops() { return *g_kernels->ops; }

bool set_gemm_isa(const std::string& name) {
  const GemmKernels* k = name == "best" ? best_kernels() : kernels_named(name);
  if (!k) return false;
  g_kernels = k;
  return true;
}

std::vector<std::string> supported_gemm_isas() {
  std::vector<std::string> out;
  for (const char* n : {"avx512vnni", "avx2", "generic"})
    if (kernels_named(n)) out.emplace_back(n);
  return out;
}

PackedMatrix pack_int8(const int8_t* w, const float* scale, int N, int K) {
  if (!g_kernels->q8_block) {
    std::vector<float> f(static_cast<size_t>(N) * K);
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) f[static_cast<size_t>(n) * K + k] = w[static_cast<size_t>(n) * K + k] * scale[n];
    return pack_float(f.data(), N, K);
  }
  PackedMatrix p;
  p.int8 = true;
  p.N = N;
  p.K = K;
  p.Np = round_up(N, kBlockCols);
  p.Kp = round_up(K, kGroup);
  const int panels = p.Np / kPanel, groups = p.Kp / kGroup;
  p.data.resize(static_cast<size_t>(p.Np) * p.Kp);
  int8_t* d = p.data.as<int8_t>();
  std::memset(d, 0, static_cast<size_t>(p.Np) * p.Kp);
  p.scale.assign(p.Np, 0.f);
  p.comp.assign(static_cast<size_t>(panels) * groups * kPanel, 0);
  for (int n = 0; n < N; ++n) {
    const int panel = n / kPanel, lane = n % kPanel;
    p.scale[n] = scale[n];
    const int8_t* row = w + static_cast<size_t>(n) * K;
    for (int k = 0; k < K; ++k) {
      const size_t at = ((static_cast<size_t>(panel) * (p.Kp / 4) + k / 4) * kPanel + lane) * 4 + k % 4;
      d[at] = row[k];
      p.comp[(static_cast<size_t>(panel) * groups + k / kGroup) * kPanel + lane] += 128 * row[k];
    }
  }
  return p;
}

PackedMatrix pack_float(const float* w, int N, int K) {
  PackedMatrix p;
  p.N = N;
  p.K = K;
  p.Kp = K;
  p.Np = round_up(N, kBlockCols);
  p.data.resize(static_cast<size_t>(p.Np) * K * sizeof(float));
  float* d = p.data.as<float>();
  std::memset(d, 0, static_cast<size_t>(p.Np) * K * sizeof(float));
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) d[(static_cast<size_t>(n / kPanel) * K + k) * kPanel + n % kPanel] = w[static_cast<size_t>(n) * K + k];
  return p;
}

namespace {

// Rows per work item: big enough to reuse a 64-column weight stripe, small enough to spread over the threads.
int rows_per_item(int M) { return M <= 6 ? M : std::min(96, round_up((M + 1) / 2, 6)); }

}  // namespace

void quantize_rows(lv::ThreadPool& pool, const float* x, int M, int K, size_t ldx, QuantRows& out) {
  const int Kp = round_up(K, kGroup);
  out.reserve(M, Kp);
  const int per = 64;
  const int64_t items = (M + per - 1) / per;
  pool.run(items, [&](int64_t i, int) {
    const int m1 = std::min(M, static_cast<int>(i + 1) * per);
    for (int m = static_cast<int>(i) * per; m < m1; ++m)
      g_kernels->ops->quantize(x + static_cast<size_t>(m) * ldx, K, Kp, out.q.as<uint8_t>() + static_cast<size_t>(m) * Kp, out.scale.data() + static_cast<size_t>(m) * (Kp / kGroup));
  });
}

void gemm_q8(lv::ThreadPool& pool, const QuantRows& a, const PackedMatrix& w, float* c, size_t ldc, bool accumulate) {
  if (!w.int8) throw std::invalid_argument("gemm_q8: float weights");
  if (!g_kernels->q8_block) throw std::logic_error("gemm_q8: int8 weights were packed for other kernels; set the ISA before packing");
  if (a.Kp != w.Kp) throw std::invalid_argument("gemm_q8: activation and weight widths differ");
  const int M = a.M;
  if (M == 0) return;
  const int blocks = w.Np / kBlockCols;
  const int per = rows_per_item(M);
  const int chunks = (M + per - 1) / per;
  const GemmKernels* k = g_kernels;
  pool.run(static_cast<int64_t>(blocks) * chunks, [&](int64_t i, int) {
    const int block = static_cast<int>(i / chunks), chunk = static_cast<int>(i % chunks);
    const int m0 = chunk * per, m1 = std::min(M, m0 + per);
    k->q8_block(a, w, m0, m1, block, c, ldc, accumulate);
  });
}

void gemm_f32(lv::ThreadPool& pool, const float* a, size_t lda, int M, const PackedMatrix& w, float* c, size_t ldc, bool accumulate) {
  if (w.int8) throw std::invalid_argument("gemm_f32: int8 weights");
  if (M == 0) return;
  const int blocks = w.Np / kBlockCols;
  const int per = rows_per_item(M);
  const int chunks = (M + per - 1) / per;
  const GemmKernels* k = g_kernels;
  pool.run(static_cast<int64_t>(blocks) * chunks, [&](int64_t i, int) {
    const int block = static_cast<int>(i / chunks), chunk = static_cast<int>(i % chunks);
    const int m0 = chunk * per, m1 = std::min(M, m0 + per);
    k->f32_block(a, lda, w, m0, m1, block, c, ldc, accumulate);
  });
}

}  // namespace lve
