// "What the model read": for query rows whose attention the kernels already ran (their logsumexp known), the
// softmax probability each kept key block received, summed over heads and rows: out[block] += Σ p.
#pragma once

#include <cstdint>

#include "../../../../../kernels/cpu/src/thread_pool.h"

namespace lve {

struct MassProblem {
  int numHeads, numKvHeads, headDim;
  int queryStart, queryLength, kvCapacity;
  float scale;
  int blockSize, numLayouts, numBlockRows, maxNnz;
  const int32_t* rowPtr;
  const int32_t* colIdx;
  const float* q;    // [H][M][hd]
  const float* k;    // [KV][kvCapacity][hd]
  const float* lse;  // [H][M], natural log
  double* out;       // [numBlocks], accumulated
  int outLength;
};

// Empty string, or why the arguments are wrong (checked before any memory is read).
const char* check_mass(const MassProblem& p);
void block_mass(lv::ThreadPool& pool, const MassProblem& p);

}  // namespace lve
