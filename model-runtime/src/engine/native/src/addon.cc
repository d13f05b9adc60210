// Node-API binding of the dense ops. Every array's type and length is checked before a pointer is followed;
// compute methods return a Promise and run on libuv's pool (sync: pass true as the last argument).
#include <napi.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "block_mass.h"
#include "model.h"

namespace lve {
namespace {

int default_threads() {
  if (const char* env = std::getenv("LONGVIEW_CPU_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

int get_int(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int32_t>(d))) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be a 32-bit integer");
  return static_cast<int32_t>(d);
}

int arg_int(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int32_t>(d)) || d < 0) throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative 32-bit integer");
  return static_cast<int32_t>(d);
}

template <typename T>
T typed(const Napi::Env& env, const Napi::Value& v, napi_typedarray_type type, const std::string& name, size_t need) {
  static const char* names[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array"};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(env, name + " must be a " + (type <= napi_float64_array ? names[type] : "typed array"));
  T a = v.As<T>();
  if (a.ElementLength() < need) throw Napi::RangeError::New(env, name + " has " + std::to_string(a.ElementLength()) + " elements; " + std::to_string(need) + " needed");
  return a;
}

std::vector<float> float_vector(const Napi::Env& env, const Napi::Value& v, const std::string& name, size_t n) {
  auto a = typed<Napi::Float32Array>(env, v, napi_float32_array, name, n);
  return std::vector<float>(a.Data(), a.Data() + n);
}

// { n, k, data: Int8Array (+ scale: Float32Array) | Float32Array } → packed.
PackedMatrix matrix(const Napi::Env& env, const Napi::Value& v, const std::string& name) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, name + " must be an object { n, k, data, scale? }");
  const Napi::Object o = v.As<Napi::Object>();
  const int n = get_int(o, "n"), k = get_int(o, "k");
  if (n <= 0 || k <= 0) throw Napi::RangeError::New(env, name + ": n and k must be positive");
  const size_t count = static_cast<size_t>(n) * k;
  const Napi::Value data = o.Get("data");
  if (data.IsTypedArray() && data.As<Napi::TypedArray>().TypedArrayType() == napi_int8_array) {
    auto w = typed<Napi::Int8Array>(env, data, napi_int8_array, name + ".data", count);
    auto s = typed<Napi::Float32Array>(env, o.Get("scale"), napi_float32_array, name + ".scale", static_cast<size_t>(n));
    return pack_int8(w.Data(), s.Data(), n, k);
  }
  auto w = typed<Napi::Float32Array>(env, data, napi_float32_array, name + ".data (Int8Array or Float32Array)", count);
  return pack_float(w.Data(), n, k);
}

// Runs `work` on libuv's pool and settles a promise; holds the JS arrays it reads or writes until then.
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::function<void()> work, const std::vector<Napi::Value>& keep)
      : Napi::AsyncWorker(env, "longview.dense"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
    for (const auto& v : keep) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::function<void()> work_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
};

bool wants_sync(const Napi::CallbackInfo& info, size_t at) { return info.Length() > at && info[at].IsBoolean() && info[at].As<Napi::Boolean>().Value(); }

Napi::Value dispatch(const Napi::CallbackInfo& info, bool sync, std::function<void()> work, const std::vector<Napi::Value>& keep) {
  if (sync) {
    try {
      work();
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }
  auto* job = new Job(info.Env(), std::move(work), keep);
  Napi::Promise p = job->promise();
  job->Queue();
  return p;
}

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model", {
        InstanceMethod("setLayer", &ModelWrap::SetLayer),
        InstanceMethod("setHead", &ModelWrap::SetHead),
        InstanceMethod("preAttention", &ModelWrap::PreAttention),
        InstanceMethod("postAttention", &ModelWrap::PostAttention),
        InstanceMethod("logits", &ModelWrap::Logits),
        InstanceMethod("embed", &ModelWrap::Embed),
        InstanceMethod("info", &ModelWrap::Info),
        InstanceMethod("blockMass", &ModelWrap::BlockMass),
    });
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "new Model(dims) expects an object");
    const Napi::Object o = info[0].As<Napi::Object>();
    Dims d;
    d.dModel = get_int(o, "dModel");
    d.numHeads = get_int(o, "numHeads");
    d.numKvHeads = get_int(o, "numKvHeads");
    d.headDim = get_int(o, "headDim");
    d.ffnDim = get_int(o, "ffnDim");
    d.vocabSize = get_int(o, "vocabSize");
    d.numLayers = get_int(o, "numLayers");
    if (d.dModel <= 0 || d.numHeads <= 0 || d.numKvHeads <= 0 || d.headDim <= 0 || d.ffnDim <= 0 || d.vocabSize <= 0 || d.numLayers <= 0)
      throw Napi::RangeError::New(env, "model dimensions must be positive");
    const Napi::Value eps = o.Get("normEps");
    if (!eps.IsNumber()) throw Napi::TypeError::New(env, "normEps must be a number");
    d.normEps = eps.As<Napi::Number>().FloatValue();
    auto inv = typed<Napi::Float64Array>(env, o.Get("invFreq"), napi_float64_array, "invFreq", static_cast<size_t>(d.headDim / 2));
    d.invFreq.assign(inv.Data(), inv.Data() + d.headDim / 2);
    int threads = default_threads();
    if (o.Has("threads") && !o.Get("threads").IsUndefined()) threads = get_int(o, "threads");
    if (threads < 1 || threads > 1024) throw Napi::RangeError::New(env, "threads must be in [1, 1024]");
    try {
      model_ = std::make_unique<Model>(std::move(d), threads);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

 private:
  Napi::Value SetLayer(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const int i = arg_int(info, 0, "layer");
    if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "setLayer(i, weights) expects an object");
    const Napi::Object o = info[1].As<Napi::Object>();
    const size_t d = static_cast<size_t>(model_->dims().dModel);
    Layer L;
    L.attnNorm = float_vector(env, o.Get("attnNorm"), "attnNorm", d);
    L.mlpNorm = float_vector(env, o.Get("mlpNorm"), "mlpNorm", d);
    L.qkv = matrix(env, o.Get("qkv"), "qkv");
    L.o = matrix(env, o.Get("o"), "o");
    L.gateUp = matrix(env, o.Get("gateUp"), "gateUp");
    L.down = matrix(env, o.Get("down"), "down");
    std::lock_guard<std::mutex> lock(model_->call_mutex);
    try {
      model_->set_layer(i, std::move(L));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    return env.Undefined();
  }

  Napi::Value SetHead(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setHead(weights) expects an object");
    const Napi::Object o = info[0].As<Napi::Object>();
    const Dims& dims = model_->dims();
    const size_t n = static_cast<size_t>(dims.vocabSize) * dims.dModel;
    Embedding e;
    const Napi::Value ev = o.Get("embedding");
    if (!ev.IsObject()) throw Napi::TypeError::New(env, "embedding must be an object { n, k, data, scale? }");
    const Napi::Value data = ev.As<Napi::Object>().Get("data");
    if (data.IsTypedArray() && data.As<Napi::TypedArray>().TypedArrayType() == napi_int8_array) {
      auto w = typed<Napi::Int8Array>(env, data, napi_int8_array, "embedding.data", n);
      auto s = typed<Napi::Float32Array>(env, ev.As<Napi::Object>().Get("scale"), napi_float32_array, "embedding.scale", static_cast<size_t>(dims.vocabSize));
      e.int8 = true;
      e.q.assign(w.Data(), w.Data() + n);
      e.scale.assign(s.Data(), s.Data() + dims.vocabSize);
    } else {
      auto w = typed<Napi::Float32Array>(env, data, napi_float32_array, "embedding.data (Int8Array or Float32Array)", n);
      e.f.assign(w.Data(), w.Data() + n);
    }
    const Napi::Value head = o.Get("lmHead");
    PackedMatrix lm = head.IsUndefined() || head.IsNull() ? matrix(env, ev, "embedding") : matrix(env, head, "lmHead");
    std::vector<float> norm = float_vector(env, o.Get("finalNorm"), "finalNorm", static_cast<size_t>(dims.dModel));
    std::lock_guard<std::mutex> lock(model_->call_mutex);
    try {
      model_->set_head(std::move(e), std::move(norm), std::move(lm));
    } catch (const std::exception& ex) {
      throw Napi::Error::New(env, ex.what());
    }
    return env.Undefined();
  }

  void need_ready(const Napi::Env& env, int layer) {
    if (!model_->ready()) throw Napi::Error::New(env, "model weights are not all set");
    if (layer >= model_->dims().numLayers) throw Napi::RangeError::New(env, "layer " + std::to_string(layer) + " out of range");
  }

  // preAttention(layer, x, M, pos0, q, kCache, vCache, kvCapacity, sync?)
  Napi::Value PreAttention(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const int layer = arg_int(info, 0, "layer");
    need_ready(env, layer);
    const Dims& d = model_->dims();
    const int M = arg_int(info, 2, "M"), pos0 = arg_int(info, 3, "pos0"), cap = arg_int(info, 7, "kvCapacity");
    if (static_cast<int64_t>(pos0) + M > cap) throw Napi::RangeError::New(env, "pos0 + M exceeds kvCapacity");
    auto x = typed<Napi::Float32Array>(env, info[1], napi_float32_array, "x", static_cast<size_t>(M) * d.dModel);
    auto q = typed<Napi::Float32Array>(env, info[4], napi_float32_array, "q", static_cast<size_t>(M) * d.numHeads * d.headDim);
    const size_t kvNeed = static_cast<size_t>(d.numKvHeads) * cap * d.headDim;
    auto k = typed<Napi::Float32Array>(env, info[5], napi_float32_array, "kCache", kvNeed);
    auto v = typed<Napi::Float32Array>(env, info[6], napi_float32_array, "vCache", kvNeed);
    Model* m = model_.get();
    float *xp = x.Data(), *qp = q.Data(), *kp = k.Data(), *vp = v.Data();
    return dispatch(info, wants_sync(info, 8), [=] {
      std::lock_guard<std::mutex> lock(m->call_mutex);
      m->pre_attention(layer, xp, M, pos0, qp, kp, vp, cap);
    }, {info[1], info[4], info[5], info[6], Value()});
  }

  // postAttention(layer, attn, x, M, sync?)
  Napi::Value PostAttention(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const int layer = arg_int(info, 0, "layer");
    need_ready(env, layer);
    const Dims& d = model_->dims();
    const int M = arg_int(info, 3, "M");
    auto attn = typed<Napi::Float32Array>(env, info[1], napi_float32_array, "attn", static_cast<size_t>(M) * d.numHeads * d.headDim);
    auto x = typed<Napi::Float32Array>(env, info[2], napi_float32_array, "x", static_cast<size_t>(M) * d.dModel);
    Model* m = model_.get();
    const float* ap = attn.Data();
    float* xp = x.Data();
    return dispatch(info, wants_sync(info, 4), [=] {
      std::lock_guard<std::mutex> lock(m->call_mutex);
      m->post_attention(layer, ap, xp, M);
    }, {info[1], info[2], Value()});
  }

  // logits(x, M, rows, out, sync?): rows index x's M rows.
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    need_ready(env, 0);
    const Dims& d = model_->dims();
    const int M = arg_int(info, 1, "M");
    auto x = typed<Napi::Float32Array>(env, info[0], napi_float32_array, "x", static_cast<size_t>(M) * d.dModel);
    auto rows = typed<Napi::Int32Array>(env, info[2], napi_int32_array, "rows", 0);
    const int R = static_cast<int>(rows.ElementLength());
    for (int i = 0; i < R; ++i)
      if (rows[i] < 0 || rows[i] >= M) throw Napi::RangeError::New(env, "rows[" + std::to_string(i) + "] = " + std::to_string(rows[i]) + " outside [0, M)");
    auto out = typed<Napi::Float32Array>(env, info[3], napi_float32_array, "out", static_cast<size_t>(R) * d.vocabSize);
    Model* m = model_.get();
    const float* xp = x.Data();
    const int32_t* rp = rows.Data();
    float* op = out.Data();
    return dispatch(info, wants_sync(info, 4), [=] {
      std::lock_guard<std::mutex> lock(m->call_mutex);
      m->logits(xp, rp, R, op);
    }, {info[0], info[2], info[3], Value()});
  }

  // embed(ids, x): sync (a row copy per token).
  Napi::Value Embed(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    need_ready(env, 0);
    auto ids = typed<Napi::Int32Array>(env, info[0], napi_int32_array, "ids", 0);
    const int M = static_cast<int>(ids.ElementLength());
    auto x = typed<Napi::Float32Array>(env, info[1], napi_float32_array, "x", static_cast<size_t>(M) * model_->dims().dModel);
    try {
      model_->embed(ids.Data(), M, x.Data());
    } catch (const std::exception& e) {
      throw Napi::RangeError::New(env, e.what());
    }
    return env.Undefined();
  }

  // blockMass(shape, layout, q, k, lse, out: Float64Array): sync; shape as kernels/api.ts AttentionShape.
  Napi::Value BlockMass(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[0].IsObject() || !info[1].IsObject()) throw Napi::TypeError::New(env, "blockMass(shape, layout, q, k, lse, out)");
    const Napi::Object s = info[0].As<Napi::Object>(), L = info[1].As<Napi::Object>();
    MassProblem p{};
    p.numHeads = get_int(s, "numHeads");
    p.numKvHeads = get_int(s, "numKvHeads");
    p.headDim = get_int(s, "headDim");
    p.queryStart = get_int(s, "queryStart");
    p.queryLength = get_int(s, "queryLength");
    p.kvCapacity = get_int(s, "kvCapacity");
    const Napi::Value scale = s.Get("scale");
    if (!scale.IsNumber()) throw Napi::TypeError::New(env, "shape.scale must be a number");
    p.scale = scale.As<Napi::Number>().FloatValue();
    p.blockSize = get_int(L, "blockSize");
    p.numLayouts = get_int(L, "numLayouts");
    p.numBlockRows = get_int(L, "numBlockRows");
    p.maxNnz = get_int(L, "maxNnz");
    if (p.numHeads <= 0 || p.numKvHeads <= 0 || p.headDim <= 0 || p.queryLength < 0 || p.kvCapacity < 0 || p.numLayouts <= 0 || p.numBlockRows < 0 || p.maxNnz <= 0)
      throw Napi::RangeError::New(env, "blockMass: sizes must be positive");
    auto rowPtr = typed<Napi::Int32Array>(env, L.Get("rowPtr"), napi_int32_array, "layout.rowPtr", static_cast<size_t>(p.numLayouts) * (p.numBlockRows + 1));
    auto colIdx = typed<Napi::Int32Array>(env, L.Get("colIdx"), napi_int32_array, "layout.colIdx", static_cast<size_t>(p.numLayouts) * p.maxNnz);
    auto q = typed<Napi::Float32Array>(env, info[2], napi_float32_array, "q", static_cast<size_t>(p.numHeads) * p.queryLength * p.headDim);
    auto k = typed<Napi::Float32Array>(env, info[3], napi_float32_array, "k", static_cast<size_t>(p.numKvHeads) * p.kvCapacity * p.headDim);
    auto lse = typed<Napi::Float32Array>(env, info[4], napi_float32_array, "lse", static_cast<size_t>(p.numHeads) * p.queryLength);
    auto out = typed<Napi::Float64Array>(env, info[5], napi_float64_array, "out", 0);
    p.rowPtr = rowPtr.Data();
    p.colIdx = colIdx.Data();
    p.q = q.Data();
    p.k = k.Data();
    p.lse = lse.Data();
    p.out = out.Data();
    p.outLength = static_cast<int>(out.ElementLength());
    const std::string err = check_mass(p);
    if (!err.empty()) throw Napi::RangeError::New(env, "blockMass: " + err);
    std::lock_guard<std::mutex> lock(model_->call_mutex);
    block_mass(model_->pool(), p);  // heads × rows items: worth both threads even for one row
    return env.Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("isa", gemm_isa());
    o.Set("threads", model_->threads());
    return o;
  }

  std::unique_ptr<Model> model_;
};

// A single packed matrix: the GEMM alone, for tests and the dense-op benchmark.
class LinearWrap : public Napi::ObjectWrap<LinearWrap> {
 public:
  static Napi::Function Define(Napi::Env env) { return DefineClass(env, "Linear", {InstanceMethod("run", &LinearWrap::Run)}); }

  explicit LinearWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LinearWrap>(info) {
    const Napi::Env env = info.Env();
    w_ = matrix(env, info.Length() > 0 ? info[0] : env.Undefined(), "matrix");
    int threads = default_threads();
    if (info.Length() > 1 && info[1].IsNumber()) threads = arg_int(info, 1, "threads");
    pool_ = std::make_unique<lv::ThreadPool>(std::max(1, threads));
  }

 private:
  // run(x [M][K], M, out [M][N], accumulate, sync?)
  Napi::Value Run(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const int M = arg_int(info, 1, "M");
    auto x = typed<Napi::Float32Array>(env, info[0], napi_float32_array, "x", static_cast<size_t>(M) * w_.K);
    auto out = typed<Napi::Float32Array>(env, info[2], napi_float32_array, "out", static_cast<size_t>(M) * w_.N);
    const bool acc = info.Length() > 3 && info[3].ToBoolean().Value();
    const float* xp = x.Data();
    float* op = out.Data();
    return dispatch(info, wants_sync(info, 4), [=] {
      std::lock_guard<std::mutex> lock(mutex_);
      if (w_.int8) {
        quantize_rows(*pool_, xp, M, w_.K, w_.K, qa_);
        gemm_q8(*pool_, qa_, w_, op, w_.N, acc);
      } else {
        gemm_f32(*pool_, xp, w_.K, M, w_, op, w_.N, acc);
      }
    }, {info[0], info[2], Value()});
  }

  PackedMatrix w_;
  std::unique_ptr<lv::ThreadPool> pool_;
  QuantRows qa_;
  std::mutex mutex_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Model", ModelWrap::Define(env));
  exports.Set("Linear", LinearWrap::Define(env));
  exports.Set("isa", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    const Napi::Env e = info.Env();
    if (info.Length() > 0 && info[0].IsString()) {
      const std::string name = info[0].As<Napi::String>();
      if (!set_gemm_isa(name)) throw Napi::RangeError::New(e, "this CPU cannot run the '" + name + "' GEMM kernels");
    }
    Napi::Object o = Napi::Object::New(e);
    o.Set("isa", gemm_isa());
    Napi::Array list = Napi::Array::New(e);
    uint32_t i = 0;
    for (const std::string& n : supported_gemm_isas()) list.Set(i++, n);
    o.Set("supportedIsas", list);
    return o;
  }));
  return exports;
}

}  // namespace
}  // namespace lve

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lve::Init(env, exports); }
NODE_API_MODULE(longview_dense, InitAddon)
