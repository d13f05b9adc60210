#include "block_mass.h"

#include "dense.h"

#include <cmath>
#include <mutex>
#include <vector>

namespace lve {

const char* check_mass(const MassProblem& p) {
  if (p.numHeads <= 0 || p.numKvHeads <= 0 || p.numHeads % p.numKvHeads) return "numHeads must be a positive multiple of numKvHeads";
  if (p.headDim <= 0 || p.queryLength < 0 || p.queryStart < 0) return "bad shape";
  if (p.queryStart + p.queryLength > p.kvCapacity) return "query rows exceed kvCapacity";
  if (p.blockSize <= 0 || p.numLayouts <= 0 || p.maxNnz <= 0) return "bad layout";
  if (p.queryLength > 0 && (p.queryStart + p.queryLength - 1) / p.blockSize >= p.numBlockRows) return "layout has too few block rows";
  const int lastRow = p.queryLength > 0 ? (p.queryStart + p.queryLength - 1) / p.blockSize : -1;
  for (int l = 0; l < p.numLayouts && l < p.numHeads; ++l) {
    const int32_t* rp = p.rowPtr + static_cast<size_t>(l) * (p.numBlockRows + 1);
    const int32_t* ci = p.colIdx + static_cast<size_t>(l) * p.maxNnz;
    for (int r = p.queryStart / p.blockSize; r <= lastRow; ++r) {
      if (rp[r] < 0 || rp[r + 1] < rp[r] || rp[r + 1] > p.maxNnz) return "bad rowPtr";
      for (int32_t i = rp[r]; i < rp[r + 1]; ++i)
        if (ci[i] < 0 || ci[i] > r || ci[i] >= p.outLength) return "column outside [0, row] or beyond out";
    }
  }
  return "";
}

void block_mass(lv::ThreadPool& pool, const MassProblem& p) {
  const int G = p.numHeads / p.numKvHeads, D = p.headDim, B = p.blockSize, M = p.queryLength;
  std::mutex merge;
  const RowOps& ops = row_ops();
  pool.run(static_cast<int64_t>(p.numHeads) * M, [&](int64_t item, int) {
    const int h = static_cast<int>(item / M), i = static_cast<int>(item % M);
    const int pos = p.queryStart + i, r = pos / B, l = h % p.numLayouts;
    const float* q = p.q + (static_cast<size_t>(h) * M + i) * D;
    const float* kh = p.k + static_cast<size_t>(h / G) * p.kvCapacity * D;
    const double lse = p.lse[static_cast<size_t>(h) * M + i];
    const int32_t* rp = p.rowPtr + static_cast<size_t>(l) * (p.numBlockRows + 1);
    const int32_t* ci = p.colIdx + static_cast<size_t>(l) * p.maxNnz;
    std::vector<std::pair<int, double>> local;
    local.reserve(rp[r + 1] - rp[r]);
    for (int32_t c = rp[r]; c < rp[r + 1]; ++c) {
      const int col = ci[c];
      const int end = col == r ? pos + 1 : (col + 1) * B;
      double sum = 0;
      for (int j = col * B; j < end; j += 64) sum += ops.exp_dot_sum(q, kh + static_cast<size_t>(j) * D, D, std::min(64, end - j), p.scale, static_cast<float>(lse));
      local.emplace_back(col, sum);
    }
    std::lock_guard<std::mutex> lock(merge);
    for (const auto& [col, s] : local) p.out[col] += s;
  });
}

}  // namespace lve
