// Block-sparse causal attention on the CPU: the problem description shared by the planner (attention.cc),
// the per-ISA kernels (kernel_*.cc) and the Node-API binding (addon.cc). Semantics: kernels/api.ts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lv {

struct Problem {
  int numHeads = 0, numKvHeads = 0, headDim = 0;
  int queryStart = 0, queryLength = 0, kvLength = 0, kvCapacity = 0;
  float scale = 0.f;
  int blockSize = 0, numLayouts = 0, numBlockRows = 0, maxNnz = 0;
  const int32_t* rowPtr = nullptr;  // [numLayouts][numBlockRows + 1]
  const int32_t* colIdx = nullptr;  // [numLayouts][maxNnz]
  const float* q = nullptr;         // [numHeads][queryLength][headDim]
  const float* k = nullptr;         // [numKvHeads][kvCapacity][headDim]
  const float* v = nullptr;
  float* out = nullptr;  // [numHeads][queryLength][headDim]
  float* lse = nullptr;  // [numHeads][queryLength] or null
};

// Query rows per tile: the lanes the row-parallel kernel vectorises over.
constexpr int kTileRows = 64;
// Heads of one GQA group are tracked with a 64-bit membership mask per kept block.
constexpr int kMaxGroup = 64;

// One unit of parallel work before splitting: a KV head's query heads over up to kTileRows query rows of
// one block row. `cols` lists the union of the group's kept blocks; mask bit i = head (group * G + i) keeps it.
struct Tile {
  int kvHead = 0, blockRow = 0;
  int rowBegin = 0, rowEnd = 0;  // query rows, relative to queryStart
  int colBegin = 0, colCount = 0;  // range in Plan::cols / Plan::masks
  size_t partialOffset = 0;        // floats into Plan::partialO when splits > 1
};

struct Plan {
  int group = 1;   // query heads per KV head
  int splits = 1;  // key splits per tile (split-K); > 1 only when tiles alone cannot fill the threads
  std::vector<Tile> tiles;
  std::vector<int32_t> cols;
  std::vector<uint64_t> masks;
  // Split-K partial results, per tile: [split][head in group][row][headDim] (+ m, l per row), log2 domain.
  // Written by concurrent items into disjoint ranges, hence mutable through the const Plan the kernels get.
  mutable std::vector<float> partialO, partialM, partialL;
};

// Per-worker scratch memory, grown on demand and reused across calls.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Scratch(Scratch&& o) noexcept : raw_(o.raw_), data_(o.data_), size_(o.size_) { o.raw_ = nullptr; o.data_ = nullptr; o.size_ = 0; }
  ~Scratch();
  float* get(size_t floats);  // 64-byte aligned, contents unspecified

 private:
  void* raw_ = nullptr;
  float* data_ = nullptr;
  size_t size_ = 0;
};

// One instruction-set build of the kernels; process_item runs item (tile * splits + split) of a plan.
struct IsaKernels {
  const char* name;
  void (*process_item)(const Problem& p, const Plan& plan, int64_t item, Scratch& scratch);
};

namespace generic { extern const IsaKernels kernels; }
#if defined(LV_X86_KERNELS)
namespace avx2 { extern const IsaKernels kernels; }
namespace avx512 { extern const IsaKernels kernels; }
#endif

// The best kernels this CPU supports, and lookup by name ("avx512", "avx2", "generic"; null if unsupported).
const IsaKernels& best_kernels();
const IsaKernels* kernels_by_name(const std::string& name);
bool cpu_has_avx2_fma();
bool cpu_has_avx512f();

// Checks shapes and the layout rows this call touches; returns an error message, or "" when valid.
// Buffer lengths (in elements) are checked by the caller against required_lengths().
std::string validate(const Problem& p);

struct RequiredLengths { size_t q, kv, out, lse, rowPtr, colIdx; };
RequiredLengths required_lengths(const Problem& p);

class ThreadPool;
// Plans and runs one call on the pool (the calling thread takes part). Not reentrant per pool.
void run_attention(const Problem& p, const IsaKernels& isa, ThreadPool& pool, std::vector<Scratch>& scratch);

}  // namespace lv
