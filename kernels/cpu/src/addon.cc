// Node-API binding: attention (sync), attentionAsync (Promise, runs off the JS thread), info, configure.
// Every length and every layout row a call touches is checked here before any pointer is followed.
#include <napi.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "attention.h"
#include "thread_pool.h"

namespace lv {
namespace {

int default_threads() {
  if (const char* env = std::getenv("LONGVIEW_CPU_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Per-instance state (one per Node environment / worker thread that loads the addon).
struct Context {
  std::mutex call_mutex;  // one call at a time: the pool and the workspace are shared
  std::unique_ptr<ThreadPool> pool;
  Workspace workspace;
  const IsaKernels* isa = &best_kernels();
  int threads = default_threads();

  ThreadPool& get_pool() {
    if (!pool) pool = std::make_unique<ThreadPool>(threads);
    return *pool;
  }
  void run(const Problem& p) {
    std::lock_guard<std::mutex> lock(call_mutex);
    run_attention(p, *isa, get_pool(), workspace);
  }
};

int get_int(const Napi::Object& o, const char* key, const char* what) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(what) + "." + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int32_t>(d))) throw Napi::RangeError::New(o.Env(), std::string(what) + "." + key + " must be a 32-bit integer");
  return static_cast<int32_t>(d);
}

template <typename T>
T typed(const Napi::Value& v, napi_typedarray_type type, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(v.Env(), std::string(name) + (type == napi_float32_array ? " must be a Float32Array" : " must be an Int32Array"));
  return v.As<T>();
}

void need(const Napi::Env& env, size_t have, size_t want, const char* name) {
  if (have < want) throw Napi::RangeError::New(env, std::string(name) + " has " + std::to_string(have) + " elements; the shape needs " + std::to_string(want));
}

// Arguments: (shape, layout, q, k, v, out, lse | undefined). Returns the problem; `keep` collects the JS
// objects an async call must hold alive.
Problem parse(const Napi::CallbackInfo& info, std::vector<Napi::Value>* keep) {
  const Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsObject() || !info[1].IsObject())
    throw Napi::TypeError::New(env, "attention(shape, layout, q, k, v, out, lse?) expects objects for shape and layout");
  const Napi::Object shape = info[0].As<Napi::Object>();
  const Napi::Object layout = info[1].As<Napi::Object>();
  Problem p;
  p.numHeads = get_int(shape, "numHeads", "shape");
  p.numKvHeads = get_int(shape, "numKvHeads", "shape");
  p.headDim = get_int(shape, "headDim", "shape");
  p.queryStart = get_int(shape, "queryStart", "shape");
  p.queryLength = get_int(shape, "queryLength", "shape");
  p.kvLength = get_int(shape, "kvLength", "shape");
  p.kvCapacity = get_int(shape, "kvCapacity", "shape");
  const Napi::Value scale = shape.Get("scale");
  if (!scale.IsNumber()) throw Napi::TypeError::New(env, "shape.scale must be a number");
  p.scale = scale.As<Napi::Number>().FloatValue();
  p.blockSize = get_int(layout, "blockSize", "layout");
  p.numLayouts = get_int(layout, "numLayouts", "layout");
  p.numBlockRows = get_int(layout, "numBlockRows", "layout");
  p.maxNnz = get_int(layout, "maxNnz", "layout");
  const auto rowPtr = typed<Napi::Int32Array>(layout.Get("rowPtr"), napi_int32_array, "layout.rowPtr");
  const auto colIdx = typed<Napi::Int32Array>(layout.Get("colIdx"), napi_int32_array, "layout.colIdx");
  const auto q = typed<Napi::Float32Array>(info[2], napi_float32_array, "q");
  const auto k = typed<Napi::Float32Array>(info[3], napi_float32_array, "k");
  const auto v = typed<Napi::Float32Array>(info[4], napi_float32_array, "v");
  auto out = typed<Napi::Float32Array>(info[5], napi_float32_array, "out");
  const bool hasLse = info.Length() > 6 && !info[6].IsUndefined() && !info[6].IsNull();

  // Sizes must be sane before they are multiplied into the lengths checked below.
  if (p.numHeads <= 0 || p.numKvHeads <= 0 || p.headDim <= 0 || p.queryLength < 0 || p.kvCapacity < 0 || p.numLayouts <= 0 || p.numBlockRows < 0 || p.maxNnz <= 0)
    throw Napi::RangeError::New(env, "shape and layout sizes must be positive");
  const RequiredLengths r = required_lengths(p);
  need(env, q.ElementLength(), r.q, "q");
  need(env, k.ElementLength(), r.kv, "k");
  need(env, v.ElementLength(), r.kv, "v");
  need(env, out.ElementLength(), r.out, "out");
  need(env, rowPtr.ElementLength(), r.rowPtr, "layout.rowPtr");
  need(env, colIdx.ElementLength(), r.colIdx, "layout.colIdx");
  p.rowPtr = rowPtr.Data();
  p.colIdx = colIdx.Data();
  p.q = q.Data();
  p.k = k.Data();
  p.v = v.Data();
  p.out = out.Data();
  if (hasLse) {
    auto lse = typed<Napi::Float32Array>(info[6], napi_float32_array, "lse");
    need(env, lse.ElementLength(), r.lse, "lse");
    p.lse = lse.Data();
    if (keep) keep->push_back(info[6]);
  }
  const std::string error = validate(p);
  if (!error.empty()) throw Napi::RangeError::New(env, "sparse attention: " + error);
  if (keep) {
    for (int i = 2; i <= 5; ++i) keep->push_back(info[i]);
    keep->push_back(layout.Get("rowPtr"));
    keep->push_back(layout.Get("colIdx"));
  }
  return p;
}

class AttentionWorker : public Napi::AsyncWorker {
 public:
  AttentionWorker(Napi::Env env, Context* ctx, const Problem& p, std::vector<Napi::Value> keep)
      : Napi::AsyncWorker(env, "longview.sparseAttention"), ctx_(ctx), problem_(p), deferred_(Napi::Promise::Deferred::New(env)) {
    for (auto& v : keep) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      ctx_->run(problem_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Context* ctx_;
  Problem problem_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;  // keeps the arrays (and their memory) alive until done
};

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod("attention", &Addon::Attention),
                             InstanceMethod("attentionAsync", &Addon::AttentionAsync),
                             InstanceMethod("info", &Addon::Info),
                             InstanceMethod("configure", &Addon::Configure),
                         });
  }

 private:
  Napi::Value Attention(const Napi::CallbackInfo& info) {
    const Problem p = parse(info, nullptr);
    try {
      ctx_.run(p);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("sparse attention failed: ") + e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value AttentionAsync(const Napi::CallbackInfo& info) {
    std::vector<Napi::Value> keep;
    const Problem p = parse(info, &keep);
    auto* worker = new AttentionWorker(info.Env(), &ctx_, p, std::move(keep));
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("isa", ctx_.isa->name);
    o.Set("precision", ctx_.isa->precision);
    o.Set("threads", ctx_.threads);
    Napi::Array isas = Napi::Array::New(env);
    uint32_t n = 0;
    for (const char* name : {"avx512", "avx2", "generic"})
      if (kernels_by_name(name)) isas.Set(n++, name);
    o.Set("supportedIsas", isas);
    Napi::Array precisions = Napi::Array::New(env);
    n = 0;
    for (const char* precision : {"fp32", "bf16"})
      if (kernels_by_name(ctx_.isa->name, precision)) precisions.Set(n++, precision);
    o.Set("supportedPrecisions", precisions);
    return o;
  }

  // configure({ threads?, isa?, precision? }): takes effect from the next call (waits for a running one).
  // isa and precision each keep their current value when not given; "best" is the best float32 build.
  Napi::Value Configure(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "configure expects an object");
    const Napi::Object o = info[0].As<Napi::Object>();
    std::lock_guard<std::mutex> lock(ctx_.call_mutex);
    std::string name = ctx_.isa->name;
    std::string precision = ctx_.isa->precision;
    if (o.Has("isa") && !o.Get("isa").IsUndefined()) {
      const Napi::Value v = o.Get("isa");
      if (!v.IsString()) throw Napi::TypeError::New(env, "isa must be a string");
      name = v.As<Napi::String>();
      if (name == "best") name = best_kernels().name;
      if (!kernels_by_name(name)) throw Napi::RangeError::New(env, "this CPU cannot run the '" + name + "' kernels");
    }
    if (o.Has("precision") && !o.Get("precision").IsUndefined()) {
      const Napi::Value v = o.Get("precision");
      if (!v.IsString()) throw Napi::TypeError::New(env, "precision must be a string");
      precision = v.As<Napi::String>();
      if (precision != "fp32" && precision != "bf16") throw Napi::RangeError::New(env, "precision must be 'fp32' or 'bf16'");
    }
    const IsaKernels* k = kernels_by_name(name, precision);
    if (!k) {
      throw Napi::RangeError::New(env, "no " + precision + " '" + name + "' kernels on this CPU (bf16 needs the avx512 kernels and a CPU with AVX512-BF16)");
    }
    if (o.Has("threads") && !o.Get("threads").IsUndefined()) {
      const int t = get_int(o, "threads", "options");
      if (t < 1 || t > 1024) throw Napi::RangeError::New(env, "threads must be in [1, 1024]");
      if (t != ctx_.threads) {
        ctx_.pool.reset();
        ctx_.threads = t;
      }
    }
    ctx_.isa = k;
    return Info(info);
  }

  Context ctx_;
};

}  // namespace
}  // namespace lv

using LongviewCpu = lv::Addon;
NODE_API_ADDON(LongviewCpu)
