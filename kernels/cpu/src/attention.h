// Block-sparse causal attention on the CPU: the problem description shared by the planner (attention.cc),
// the per-ISA kernels (kernel_*.cc) and the Node-API binding (addon.cc). Semantics: kernels/api.ts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
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
  // Kernels that convert key/value blocks (bf16) convert each block once per call into this cache when it fits
  // (null otherwise): slot kvHead * cacheBlocks + block column, cacheSlotFloats floats each, holding the block's
  // rows below kvLength; cacheState[slot] is 0 (empty), 1 (being filled) or 2 (ready).
  float* blockCache = nullptr;
  std::atomic<uint8_t>* cacheState = nullptr;
  size_t cacheSlotFloats = 0;
  int cacheBlocks = 0;
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
// precision: "fp32" (every product and sum in float32), or "bf16": the prefill (row-parallel) path rounds
// Q, K, V and the softmax weights to bfloat16 and multiplies them with float32 accumulation; softmax, the
// running state and the few-rows (decode) path stay float32.
struct IsaKernels {
  const char* name;
  const char* precision;
  void (*process_item)(const Problem& p, const Plan& plan, int64_t item, Scratch& scratch);
  // Floats per converted key/value block in Plan::blockCache, or 0 for kernels that read K and V as given.
  size_t (*block_cache_floats)(int blockSize, int headDim);
};

namespace generic { extern const IsaKernels kernels; }
#if defined(LV_X86_KERNELS)
namespace avx2 { extern const IsaKernels kernels; }
namespace avx512 { extern const IsaKernels kernels; }
namespace avx512_bf16 { extern const IsaKernels kernels; }
#endif

// The best float32 kernels this CPU supports, and lookup by name ("avx512", "avx2", "generic") and precision
// ("fp32", or "bf16" for avx512 only); null if this CPU cannot run them.
const IsaKernels& best_kernels();
const IsaKernels* kernels_by_name(const std::string& name, const std::string& precision = "fp32");
bool cpu_has_avx2_fma();
bool cpu_has_avx512f();
bool cpu_has_avx512_bf16();

// Checks shapes and the layout rows this call touches; returns an error message, or "" when valid.
// Buffer lengths (in elements) are checked by the caller against required_lengths().
std::string validate(const Problem& p);

struct RequiredLengths { size_t q, kv, out, lse, rowPtr, colIdx; };
RequiredLengths required_lengths(const Problem& p);

// Memory kept between calls: per-worker scratch, and the converted-block cache (see Plan::blockCache) with its
// state flags, so that its pages are not faulted in again on every call.
struct Workspace {
  std::vector<Scratch> workers;
  Scratch blockCache;
  std::unique_ptr<std::atomic<uint8_t>[]> cacheState;
  size_t cacheStateSize = 0;
};

// Largest converted-block cache a call sets up (LONGVIEW_CPU_BLOCK_CACHE_MB overrides it; 0 turns the cache
// off); beyond it the kernels convert blocks per use.
constexpr size_t kMaxBlockCacheBytes = size_t{128} << 20;

class ThreadPool;
// Plans and runs one call on the pool (the calling thread takes part). Not reentrant per pool or workspace.
void run_attention(const Problem& p, const IsaKernels& isa, ThreadPool& pool, Workspace& workspace);

}  // namespace lv
