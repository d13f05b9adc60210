// Dense parts of a Llama-family decoder layer on the CPU: packed weight matrices (int8 with per-output-channel
// scales, or float32), activations quantized per row and per group of kGroup inputs, GEMMs picked by CPU
// features at run time, and the element-wise ops between them. Attention itself is not here: it runs through
// the sparse attention kernels (kernels/cpu), so this addon only prepares its inputs and consumes its output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../../../../../kernels/cpu/src/thread_pool.h"

namespace lve {

// Activations are quantized per row in groups of this many inputs: an outlier spoils only its own group
// (llama.cpp's Q8 activations use 32; 64 keeps the int32 → float conversions to one per 16 dot steps).
constexpr int kGroup = 64;
// Output columns per packed panel (one 512-bit vector of int32 / float32).
constexpr int kPanel = 16;
// Panels per GEMM column block: the unit of work handed to a thread, and the kernels' register tile width.
constexpr int kPanelsPerBlock = 4;
constexpr int kBlockCols = kPanel * kPanelsPerBlock;

struct AlignedBytes {
  void* ptr = nullptr;
  size_t size = 0;
  AlignedBytes() = default;
  explicit AlignedBytes(size_t bytes);
  ~AlignedBytes();
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  AlignedBytes(AlignedBytes&& o) noexcept : ptr(o.ptr), size(o.size) { o.ptr = nullptr; o.size = 0; }
  AlignedBytes& operator=(AlignedBytes&& o) noexcept;
  template <typename T> T* as() const { return static_cast<T*>(ptr); }
  void resize(size_t bytes);  // contents are not kept
};

// A weight matrix W [N][K] (PyTorch Linear layout: out × in), packed for the GEMM kernels.
struct PackedMatrix {
  bool int8 = false;
  int N = 0, K = 0;
  int Np = 0;  // N rounded up to kBlockCols
  int Kp = 0;  // int8: K rounded up to kGroup; float: K
  // int8:  [Np/16][Kp/4][16][4] bytes (four consecutive inputs of one output channel are one 32-bit lane, the
  //        order VNNI's u8·s8 dot product reads); float: [Np/16][K][16].
  AlignedBytes data;
  std::vector<float> scale;  // int8: per output channel (Np, zero-padded)
  std::vector<int32_t> comp;  // int8: [Np/16][Kp/kGroup][16] = 128 · Σ(group's weights): undoes the u8 offset
};

// Activations of M rows quantized for the int8 GEMM: u8 = round(x / s) + 128, s = max|x| / 127 per group.
struct QuantRows {
  int M = 0, Kp = 0;
  AlignedBytes q;              // [M][Kp] u8
  std::vector<float> scale;    // [M][Kp / kGroup]
  void reserve(int rows, int kp);
};

// int8 weights stay int8 where the kernels have an int8 path (VNNI); elsewhere they are expanded to float here
// (4× the memory, and the float kernels' accuracy: no activation quantization).
PackedMatrix pack_int8(const int8_t* w, const float* scale, int N, int K);
PackedMatrix pack_float(const float* w, int N, int K);

// Which GEMM kernels run: "avx512vnni" (int8 through u8·s8 dot products + AVX-512 float), "avx2" (float, AVX2+FMA)
// or "generic" (float, portable). Set it before packing: packed int8 weights need the int8 kernels.
const char* gemm_isa();
bool set_gemm_isa(const std::string& name);  // false when this CPU cannot run it
std::vector<std::string> supported_gemm_isas();

// Quantizes rows x [M][K] (row stride ldx) into `out` (Kp columns, zero-padded). Runs on the pool.
void quantize_rows(lv::ThreadPool& pool, const float* x, int M, int K, size_t ldx, QuantRows& out);

// C [M][N] (row stride ldc) = A · Wᵀ, or C += A · Wᵀ when accumulate. int8 weights take quantized rows,
// float weights take float rows A [M][K] (row stride lda).
void gemm_q8(lv::ThreadPool& pool, const QuantRows& a, const PackedMatrix& w, float* c, size_t ldc, bool accumulate);
void gemm_f32(lv::ThreadPool& pool, const float* a, size_t lda, int M, const PackedMatrix& w, float* c, size_t ldc, bool accumulate);

// Element-wise row steps, compiled per ISA like the GEMMs (row_ops.inc).
struct RowOps {
  float (*sum_squares)(const float* x, int n);
  void (*scale)(const float* x, float s, const float* w, float* out, int n);
  void (*swiglu)(const float* g, const float* u, float* out, int n);
  void (*quantize)(const float* x, int K, int Kp, uint8_t* q, float* scales);
  // Σ_j exp(q·k_j · scale − lse) over n ≤ 64 keys k_j (rows of D floats): one key block's softmax mass.
  float (*exp_dot_sum)(const float* q, const float* k, int D, int n, float scale, float lse);
};

// Per-ISA kernel entry points (gemm_*.cc). Each computes rows [m0, m1) × column block `block` of C.
// q8_block is null where the ISA has no int8 kernel.
struct GemmKernels {
  const char* name;
  void (*q8_block)(const QuantRows& a, const PackedMatrix& w, int m0, int m1, int block, float* c, size_t ldc, bool accumulate);
  void (*f32_block)(const float* a, size_t lda, const PackedMatrix& w, int m0, int m1, int block, float* c, size_t ldc, bool accumulate);
  const RowOps* ops;
};

// The row steps of the kernels in use.
const RowOps& row_ops();
extern const GemmKernels kGenericKernels;
#if defined(LVE_X86)
extern const GemmKernels kAvx2Kernels;
extern const GemmKernels kAvx512VnniKernels;
#endif

}  // namespace lve
