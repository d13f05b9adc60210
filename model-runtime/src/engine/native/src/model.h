// One decoder's dense weights and the per-layer steps around attention:
//   pre_attention:  x → RMSNorm → [q | k | v] = x·Wqkvᵀ → RoPE(q, k) → q (head-major) and k, v into the cache
//   post_attention: x += attn·Woᵀ; x += down(silu(gate) ⊙ up) of RMSNorm(x)
//   logits:         RMSNorm(x) · Wheadᵀ for the rows asked for
// Everything runs on the model's thread pool; a call at a time (the scratch buffers are shared).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "dense.h"

namespace lve {

struct Dims {
  int dModel = 0, numHeads = 0, numKvHeads = 0, headDim = 0, ffnDim = 0, vocabSize = 0, numLayers = 0;
  float normEps = 1e-5f;
  std::vector<double> invFreq;  // RoPE inverse frequencies, headDim / 2 (scaling already applied)
};

struct Layer {
  std::vector<float> attnNorm, mlpNorm;
  PackedMatrix qkv, o, gateUp, down;
  bool ready = false;
};

struct Embedding {
  bool int8 = false;
  std::vector<int8_t> q;      // [V][d] when int8
  std::vector<float> scale;   // [V] when int8
  std::vector<float> f;       // [V][d] when float
};

class Model {
 public:
  Model(Dims dims, int threads);
  const Dims& dims() const { return dims_; }
  int threads() const { return pool_->size(); }
  lv::ThreadPool& pool() { return *pool_; }
  // Calls with at most this many rows run on the calling thread alone: waking the pool costs more than a decode
  // step's GEMVs, and its spinning workers would compete with the attention kernels' threads on small machines.
  static constexpr int kSerialRows = 8;
  lv::ThreadPool& pool_for(int M) { return M <= kSerialRows ? *serial_ : *pool_; }

  void set_layer(int index, Layer layer);
  void set_head(Embedding embedding, std::vector<float> finalNorm, PackedMatrix lmHead);
  bool ready() const;

  // x [M][d]; q out [H][M][hd]; k, v caches [KV][kvCapacity][hd], rows [pos0, pos0 + M) written.
  void pre_attention(int layer, const float* x, int M, int pos0, float* q, float* kCache, float* vCache, int kvCapacity);
  // attn [H][M][hd]; x [M][d] updated in place.
  void post_attention(int layer, const float* attn, float* x, int M);
  // rows: indices into x [M][d]; out [rows][V].
  void logits(const float* x, const int32_t* rows, int numRows, float* out);
  void embed(const int32_t* ids, int M, float* x) const;

  std::mutex call_mutex;

 private:
  void rmsnorm(const float* x, const int32_t* rows, int M, const std::vector<float>& w, float* out);
  void linear(const float* a, int M, int K, const PackedMatrix& w, float* c, size_t ldc, bool accumulate);
  void rope_tables(int pos0, int M);

  Dims dims_;
  std::unique_ptr<lv::ThreadPool> pool_;
  std::unique_ptr<lv::ThreadPool> serial_;
  lv::ThreadPool* cur_ = nullptr;  // the pool of the call in progress
  std::vector<Layer> layers_;
  Embedding embedding_;
  std::vector<float> finalNorm_;
  PackedMatrix lmHead_;
  bool headReady_ = false;
  // scratch, grown on demand
  std::vector<float> xn_, qkv_, flat_, gu_, h_;
  QuantRows qa_;
  int ropePos_ = -1, ropeLen_ = 0;
  std::vector<float> cos_, sin_;
};

}  // namespace lve
