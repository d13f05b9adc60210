// Planning (tiles of work, split-K when tiles alone cannot fill the threads), validation and the split-K
// merge. Independent of the instruction set: the kernels themselves live in kernel_impl.inc.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>

#include "attention.h"
#include "thread_pool.h"

namespace lv {

Scratch::~Scratch() {
  if (raw_) ::operator delete(raw_, std::align_val_t(64));
}

float* Scratch::get(size_t floats) {
  if (floats > size_) {
    if (raw_) ::operator delete(raw_, std::align_val_t(64));
    raw_ = nullptr;
    size_t grown = std::max(floats, size_ + size_ / 2);
    raw_ = ::operator new(grown * sizeof(float), std::align_val_t(64));
    data_ = static_cast<float*>(raw_);
    size_ = grown;
  }
  return data_;
}

RequiredLengths required_lengths(const Problem& p) {
  RequiredLengths r;
  r.q = static_cast<size_t>(p.numHeads) * p.queryLength * p.headDim;
  r.kv = static_cast<size_t>(p.numKvHeads) * p.kvCapacity * p.headDim;
  r.out = r.q;
  r.lse = static_cast<size_t>(p.numHeads) * p.queryLength;
  r.rowPtr = static_cast<size_t>(p.numLayouts) * (static_cast<size_t>(p.numBlockRows) + 1);
  r.colIdx = static_cast<size_t>(p.numLayouts) * p.maxNnz;
  return r;
}

std::string validate(const Problem& p) {
  if (p.numHeads <= 0 || p.numKvHeads <= 0) return "numHeads and numKvHeads must be positive";
  if (p.numHeads % p.numKvHeads != 0) return "numHeads must be a multiple of numKvHeads";
  if (p.numHeads / p.numKvHeads > kMaxGroup) return "at most 64 query heads per key/value head";
  if (p.headDim <= 0 || p.headDim > 4096) return "headDim must be in [1, 4096]";
  if (p.queryStart < 0 || p.queryLength < 0) return "queryStart and queryLength must be >= 0";
  if (p.kvLength != p.queryStart + p.queryLength) return "kvLength must equal queryStart + queryLength";
  if (p.kvCapacity < p.kvLength) return "kvCapacity must be >= kvLength";
  if (!std::isfinite(p.scale)) return "scale must be finite";
  if (p.blockSize <= 0 || p.numLayouts <= 0 || p.maxNnz <= 0) return "layout blockSize, numLayouts and maxNnz must be positive";
  if (p.queryLength == 0) return "";
  const int B = p.blockSize;
  const int firstRow = p.queryStart / B;
  const int lastRow = (p.kvLength - 1) / B;
  if (p.numBlockRows <= lastRow) return "layout has " + std::to_string(p.numBlockRows) + " block rows; this call needs " + std::to_string(lastRow + 1);
  const int usedLayouts = std::min(p.numLayouts, p.numHeads);
  for (int l = 0; l < usedLayouts; ++l) {
    const int32_t* rp = p.rowPtr + static_cast<size_t>(l) * (p.numBlockRows + 1);
    const int32_t* ci = p.colIdx + static_cast<size_t>(l) * p.maxNnz;
    for (int r = firstRow; r <= lastRow; ++r) {
      const int32_t a = rp[r], b = rp[r + 1];
      if (a < 0 || b < a || b > p.maxNnz) return "layout " + std::to_string(l) + ": bad rowPtr at block row " + std::to_string(r);
      if (b == a || ci[b - 1] != r) return "layout " + std::to_string(l) + ": block row " + std::to_string(r) + " does not keep its diagonal block";
      for (int32_t i = a; i < b; ++i) {
        if (ci[i] < 0 || ci[i] > r || (i > a && ci[i] <= ci[i - 1]))
          return "layout " + std::to_string(l) + ": block row " + std::to_string(r) + " has columns that are not ascending within [0, row]";
      }
    }
  }
  return "";
}

namespace {

// Union of the kept blocks of a group's heads for one block row, with a head-membership mask per block.
void union_columns(const Problem& p, int kvHead, int G, int blockRow, std::vector<std::pair<int32_t, uint64_t>>& tmp, Plan& plan) {
  tmp.clear();
  int firstLayout = -1;
  bool oneLayout = true;
  for (int g = 0; g < G; ++g) {
    const int layout = (kvHead * G + g) % p.numLayouts;
    if (firstLayout < 0) firstLayout = layout;
    else if (layout != firstLayout) oneLayout = false;
  }
  const auto columns = [&](int layout, const int32_t*& begin, const int32_t*& end) {
    const int32_t* rp = p.rowPtr + static_cast<size_t>(layout) * (p.numBlockRows + 1);
    const int32_t* ci = p.colIdx + static_cast<size_t>(layout) * p.maxNnz;
    begin = ci + rp[blockRow];
    end = ci + rp[blockRow + 1];
  };
  if (oneLayout) {
    const uint64_t all = G == 64 ? ~uint64_t{0} : ((uint64_t{1} << G) - 1);
    const int32_t *b, *e;
    columns(firstLayout, b, e);
    for (const int32_t* c = b; c != e; ++c) {
      plan.cols.push_back(*c);
      plan.masks.push_back(all);
    }
    return;
  }
  for (int g = 0; g < G; ++g) {
    const int32_t *b, *e;
    columns((kvHead * G + g) % p.numLayouts, b, e);
    for (const int32_t* c = b; c != e; ++c) tmp.emplace_back(*c, uint64_t{1} << g);
  }
  std::sort(tmp.begin(), tmp.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (size_t i = 0; i < tmp.size();) {
    const int32_t col = tmp[i].first;
    uint64_t mask = 0;
    for (; i < tmp.size() && tmp[i].first == col; ++i) mask |= tmp[i].second;
    plan.cols.push_back(col);
    plan.masks.push_back(mask);
  }
}

size_t block_cache_limit() {
  if (const char* env = std::getenv("LONGVIEW_CPU_BLOCK_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0') return static_cast<size_t>(mb) << 20;
  }
  return kMaxBlockCacheBytes;
}

// Below this many multiply-adds a call runs on the calling thread: waking workers costs more.
constexpr double kInlineWork = 4e5;

void merge_tile(const Problem& p, const Plan& plan, const Tile& t) {
  const int G = plan.group, D = p.headDim, nr = t.rowEnd - t.rowBegin, S = plan.splits;
  const float ln2 = 0.6931471805599453f;
  for (int g = 0; g < G; ++g) {
    const int h = t.kvHead * G + g;
    for (int i = 0; i < nr; ++i) {
      float M = -INFINITY;
      for (int s = 0; s < S; ++s) M = std::max(M, plan.partialM[t.partialOffset / D + (static_cast<size_t>(s) * G + g) * nr + i]);
      float L = 0.f;
      float* dst = p.out + (static_cast<size_t>(h) * p.queryLength + t.rowBegin + i) * D;
      std::fill(dst, dst + D, 0.f);
      for (int s = 0; s < S; ++s) {
        const size_t slot = (static_cast<size_t>(s) * G + g) * nr + i;
        const float l = plan.partialL[t.partialOffset / D + slot];
        if (l == 0.f) continue;
        const float w = std::exp2(plan.partialM[t.partialOffset / D + slot] - M);
        L += l * w;
        const float* src = plan.partialO.data() + t.partialOffset + slot * D;
        for (int d = 0; d < D; ++d) dst[d] += w * src[d];
      }
      const float inv = 1.f / L;
      for (int d = 0; d < D; ++d) dst[d] *= inv;
      if (p.lse) p.lse[static_cast<size_t>(h) * p.queryLength + t.rowBegin + i] = (M + std::log2(L)) * ln2;
    }
  }
}

}  // namespace

void run_attention(const Problem& p, const IsaKernels& isa, ThreadPool& pool, Workspace& workspace) {
  std::vector<Scratch>& scratch = workspace.workers;
  if (p.queryLength == 0) return;
  const int B = p.blockSize;
  const int G = p.numHeads / p.numKvHeads;
  const int firstRow = p.queryStart / B;
  const int lastRow = (p.kvLength - 1) / B;
  Plan plan;
  plan.group = G;
  std::vector<std::pair<int32_t, uint64_t>> tmp;
  double work = 0;
  // One KV head after another, so that neighbouring items (which the threads take in order) share the key and
  // value blocks of their local windows and anchors while those are still in cache; within a head, later block
  // rows first: in causal layouts they keep more blocks, and the longest items should start first.
  for (int kvh = 0; kvh < p.numKvHeads; ++kvh) {
    for (int br = lastRow; br >= firstRow; --br) {
      const int lo = std::max(br * B, p.queryStart) - p.queryStart;
      const int hi = std::min((br + 1) * B, p.kvLength) - p.queryStart;
      const int parts = (hi - lo + kTileRows - 1) / kTileRows;
      const int colBegin = static_cast<int>(plan.cols.size());
      union_columns(p, kvh, G, br, tmp, plan);
      const int colCount = static_cast<int>(plan.cols.size()) - colBegin;
      for (int part = 0; part < parts; ++part) {
        Tile t;
        t.kvHead = kvh;
        t.blockRow = br;
        t.rowBegin = lo + (hi - lo) * part / parts;
        t.rowEnd = lo + (hi - lo) * (part + 1) / parts;
        t.colBegin = colBegin;
        t.colCount = colCount;
        plan.tiles.push_back(t);
        work += static_cast<double>(t.rowEnd - t.rowBegin) * colCount * B * p.headDim * 2.0 * G;
      }
    }
  }
  const int threads = pool.size();
  const size_t tiles = plan.tiles.size();
  const bool parallel = threads > 1 && work >= kInlineWork;
  if (parallel && tiles < static_cast<size_t>(2 * threads)) {
    int maxCols = 0;
    for (const Tile& t : plan.tiles) maxCols = std::max(maxCols, t.colCount);
    const int wanted = static_cast<int>((4 * threads + tiles - 1) / tiles);
    plan.splits = std::max(1, std::min(wanted, maxCols / 2));
  }
  if (plan.splits > 1) {
    size_t offset = 0;
    for (Tile& t : plan.tiles) {
      t.partialOffset = offset;
      offset += static_cast<size_t>(plan.splits) * G * (t.rowEnd - t.rowBegin) * p.headDim;
    }
    plan.partialO.resize(offset);
    plan.partialM.resize(offset / p.headDim);
    plan.partialL.resize(offset / p.headDim);
  }
  const size_t slotFloats = isa.block_cache_floats ? isa.block_cache_floats(B, p.headDim) : 0;
  const int blocks = (p.kvLength + B - 1) / B;
  const size_t slots = static_cast<size_t>(p.numKvHeads) * blocks;
  if (slotFloats > 0 && slots * slotFloats * sizeof(float) <= block_cache_limit()) {
    if (workspace.cacheStateSize < slots) {
      workspace.cacheState.reset(new std::atomic<uint8_t>[slots]);
      workspace.cacheStateSize = slots;
    }
    for (size_t i = 0; i < slots; ++i) workspace.cacheState[i].store(0, std::memory_order_relaxed);
    plan.blockCache = workspace.blockCache.get(slots * slotFloats);
    plan.cacheState = workspace.cacheState.get();
    plan.cacheSlotFloats = slotFloats;
    plan.cacheBlocks = blocks;
  }
  if (scratch.size() < static_cast<size_t>(threads)) scratch.resize(static_cast<size_t>(threads));
  const int64_t items = static_cast<int64_t>(tiles) * plan.splits;
  if (parallel) {
    pool.run(items, [&](int64_t i, int w) { isa.process_item(p, plan, i, scratch[static_cast<size_t>(w)]); });
  } else {
    for (int64_t i = 0; i < items; ++i) isa.process_item(p, plan, i, scratch[0]);
  }
  if (plan.splits > 1) {
    if (parallel && tiles > 1) {
      pool.run(static_cast<int64_t>(tiles), [&](int64_t i, int) { merge_tile(p, plan, plan.tiles[static_cast<size_t>(i)]); });
    } else {
      for (const Tile& t : plan.tiles) merge_tile(p, plan, t);
    }
  }
}

}  // namespace lv
