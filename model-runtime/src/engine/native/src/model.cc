#include "model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lve {

namespace {

template <typename T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace

Model::Model(Dims dims, int threads)
    : dims_(std::move(dims)), pool_(std::make_unique<lv::ThreadPool>(std::max(1, threads))), serial_(std::make_unique<lv::ThreadPool>(1)), cur_(pool_.get()), layers_(dims_.numLayers) {
  if (dims_.headDim % 2 != 0) throw std::invalid_argument("headDim must be even");
  if (static_cast<int>(dims_.invFreq.size()) != dims_.headDim / 2) throw std::invalid_argument("invFreq must have headDim / 2 entries");
  if (dims_.numHeads % dims_.numKvHeads != 0) throw std::invalid_argument("numHeads must be a multiple of numKvHeads");
}

void Model::set_layer(int index, Layer layer) {
  if (index < 0 || index >= dims_.numLayers) throw std::out_of_range("layer index " + std::to_string(index));
  const int d = dims_.dModel, H = dims_.numHeads, KV = dims_.numKvHeads, hd = dims_.headDim, F = dims_.ffnDim;
  auto check = [](const PackedMatrix& m, int N, int K, const char* name) {
    if (m.N != N || m.K != K) throw std::invalid_argument(std::string(name) + ": expected " + std::to_string(N) + "×" + std::to_string(K) + ", got " + std::to_string(m.N) + "×" + std::to_string(m.K));
  };
  check(layer.qkv, (H + 2 * KV) * hd, d, "qkv");
  check(layer.o, d, H * hd, "o");
  check(layer.gateUp, 2 * F, d, "gateUp");
  check(layer.down, d, F, "down");
  if (static_cast<int>(layer.attnNorm.size()) != d || static_cast<int>(layer.mlpNorm.size()) != d) throw std::invalid_argument("norm weights must have dModel entries");
  layer.ready = true;
  layers_[index] = std::move(layer);
}

void Model::set_head(Embedding embedding, std::vector<float> finalNorm, PackedMatrix lmHead) {
  const size_t n = static_cast<size_t>(dims_.vocabSize) * dims_.dModel;
  if (embedding.int8 ? (embedding.q.size() != n || embedding.scale.size() != static_cast<size_t>(dims_.vocabSize)) : embedding.f.size() != n)
    throw std::invalid_argument("embedding must be vocabSize × dModel");
  if (static_cast<int>(finalNorm.size()) != dims_.dModel) throw std::invalid_argument("final norm must have dModel entries");
  if (lmHead.N != dims_.vocabSize || lmHead.K != dims_.dModel) throw std::invalid_argument("lm head must be vocabSize × dModel");
  embedding_ = std::move(embedding);
  finalNorm_ = std::move(finalNorm);
  lmHead_ = std::move(lmHead);
  headReady_ = true;
}

bool Model::ready() const {
  if (!headReady_) return false;
  for (const Layer& l : layers_)
    if (!l.ready) return false;
  return true;
}

void Model::rmsnorm(const float* x, const int32_t* rows, int M, const std::vector<float>& w, float* out) {
  const int d = dims_.dModel;
  const float eps = dims_.normEps;
  cur_->run((M + 31) / 32, [&](int64_t i, int) {
    const int m1 = std::min(M, static_cast<int>(i + 1) * 32);
    for (int m = static_cast<int>(i) * 32; m < m1; ++m) {
      const float* src = x + static_cast<size_t>(rows ? rows[m] : m) * d;
      float* dst = out + static_cast<size_t>(m) * d;
      const RowOps& ops = row_ops();
      const float inv = 1.f / std::sqrt(ops.sum_squares(src, d) / d + eps);
      ops.scale(src, inv, w.data(), dst, d);
    }
  });
}

void Model::linear(const float* a, int M, int K, const PackedMatrix& w, float* c, size_t ldc, bool accumulate) {
  if (w.int8) {
    quantize_rows(*cur_, a, M, K, K, qa_);
    gemm_q8(*cur_, qa_, w, c, ldc, accumulate);
  } else {
    gemm_f32(*cur_, a, K, M, w, c, ldc, accumulate);
  }
}

void Model::rope_tables(int pos0, int M) {
  if (ropePos_ == pos0 && ropeLen_ >= M) return;
  const int half = dims_.headDim / 2;
  grow(cos_, static_cast<size_t>(M) * half);
  grow(sin_, static_cast<size_t>(M) * half);
  cur_->run((M + 63) / 64, [&](int64_t i, int) {
    const int m1 = std::min(M, static_cast<int>(i + 1) * 64);
    for (int m = static_cast<int>(i) * 64; m < m1; ++m)
      for (int j = 0; j < half; ++j) {
        // Angles reach 1e6 rad at 1M tokens: float would lose them, double keeps ~1e-10 rad.
        const double a = static_cast<double>(pos0 + m) * dims_.invFreq[j];
        cos_[static_cast<size_t>(m) * half + j] = static_cast<float>(std::cos(a));
        sin_[static_cast<size_t>(m) * half + j] = static_cast<float>(std::sin(a));
      }
  });
  ropePos_ = pos0;
  ropeLen_ = M;
}

void Model::pre_attention(int li, const float* x, int M, int pos0, float* q, float* kCache, float* vCache, int kvCapacity) {
  const Layer& L = layers_.at(li);
  cur_ = &pool_for(M);
  const int d = dims_.dModel, H = dims_.numHeads, KV = dims_.numKvHeads, hd = dims_.headDim, half = hd / 2;
  const int width = (H + 2 * KV) * hd;
  float* xn = grow(xn_, static_cast<size_t>(M) * d);
  float* qkv = grow(qkv_, static_cast<size_t>(M) * width);
  rmsnorm(x, nullptr, M, L.attnNorm, xn);
  linear(xn, M, d, L.qkv, qkv, width, false);
  rope_tables(pos0, M);
  cur_->run((M + 15) / 16, [&](int64_t i, int) {
    const int m1 = std::min(M, static_cast<int>(i + 1) * 16);
    for (int m = static_cast<int>(i) * 16; m < m1; ++m) {
      const float* row = qkv + static_cast<size_t>(m) * width;
      const float* c = cos_.data() + static_cast<size_t>(m) * half;
      const float* s = sin_.data() + static_cast<size_t>(m) * half;
      // Rotate-half RoPE (the Hugging Face Llama convention): pairs (j, j + hd/2).
      auto rotate = [&](const float* src, float* dst) {
        for (int j = 0; j < half; ++j) {
          const float a = src[j], b = src[j + half];
          dst[j] = a * c[j] - b * s[j];
          dst[j + half] = b * c[j] + a * s[j];
        }
      };
      for (int h = 0; h < H; ++h) rotate(row + h * hd, q + (static_cast<size_t>(h) * M + m) * hd);
      for (int h = 0; h < KV; ++h) {
        rotate(row + (H + h) * hd, kCache + (static_cast<size_t>(h) * kvCapacity + pos0 + m) * hd);
        std::memcpy(vCache + (static_cast<size_t>(h) * kvCapacity + pos0 + m) * hd, row + (H + KV + h) * hd, sizeof(float) * hd);
      }
    }
  });
}

void Model::post_attention(int li, const float* attn, float* x, int M) {
  const Layer& L = layers_.at(li);
  cur_ = &pool_for(M);
  const int d = dims_.dModel, H = dims_.numHeads, hd = dims_.headDim, F = dims_.ffnDim;
  float* flat = grow(flat_, static_cast<size_t>(M) * H * hd);
  cur_->run((M + 31) / 32, [&](int64_t i, int) {
    const int m1 = std::min(M, static_cast<int>(i + 1) * 32);
    for (int m = static_cast<int>(i) * 32; m < m1; ++m)
      for (int h = 0; h < H; ++h) std::memcpy(flat + (static_cast<size_t>(m) * H + h) * hd, attn + (static_cast<size_t>(h) * M + m) * hd, sizeof(float) * hd);
  });
  linear(flat, M, H * hd, L.o, x, d, true);
  float* xn = grow(xn_, static_cast<size_t>(M) * d);
  float* gu = grow(gu_, static_cast<size_t>(M) * 2 * F);
  float* h = grow(h_, static_cast<size_t>(M) * F);
  rmsnorm(x, nullptr, M, L.mlpNorm, xn);
  linear(xn, M, d, L.gateUp, gu, 2 * F, false);
  cur_->run((M + 15) / 16, [&](int64_t i, int) {
    const int m1 = std::min(M, static_cast<int>(i + 1) * 16);
    for (int m = static_cast<int>(i) * 16; m < m1; ++m) {
      const float* g = gu + static_cast<size_t>(m) * 2 * F;
      row_ops().swiglu(g, g + F, h + static_cast<size_t>(m) * F, F);
    }
  });
  linear(h, M, F, L.down, x, d, true);
}

void Model::logits(const float* x, const int32_t* rows, int numRows, float* out) {
  // The LM head is the largest matrix (vocab × d): worth the pool even for one row.
  cur_ = pool_.get();
  const int d = dims_.dModel;
  float* xn = grow(xn_, static_cast<size_t>(numRows) * d);
  rmsnorm(x, rows, numRows, finalNorm_, xn);
  linear(xn, numRows, d, lmHead_, out, dims_.vocabSize, false);
}

void Model::embed(const int32_t* ids, int M, float* x) const {
  const int d = dims_.dModel;
  for (int m = 0; m < M; ++m) {
    const int id = ids[m];
    if (id < 0 || id >= dims_.vocabSize) throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
    float* dst = x + static_cast<size_t>(m) * d;
    if (embedding_.int8) {
      const int8_t* src = embedding_.q.data() + static_cast<size_t>(id) * d;
      const float s = embedding_.scale[id];
      for (int k = 0; k < d; ++k) dst[k] = src[k] * s;
    } else {
      std::memcpy(dst, embedding_.f.data() + static_cast<size_t>(id) * d, sizeof(float) * d);
    }
  }
}

}  // namespace lve
