// Node-API addon over the C API (include/longview_attention.h). Host arrays are float32; they are converted
// to bf16/fp16 on the GPU. Attention runs on a worker thread (a Promise), never on the JS thread.
// Device memory (layouts, KV caches) lives in handles that keep their context alive.
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>

#include "longview_attention.h"

namespace {

struct State {
  lv_context* ctx = nullptr;
  std::mutex mu;  // one call at a time per context: the scratch buffers and the decode workspace are shared
  void* scratch[4] = {nullptr, nullptr, nullptr, nullptr};  // qF32, qT, outT, outF32
  size_t scratchBytes[4] = {0, 0, 0, 0};
  float* lse = nullptr;
  size_t lseBytes = 0;
  ~State() {
    if (!ctx) return;
    for (void* p : scratch)
      if (p) lv_free(ctx, p);
    if (lse) lv_free(ctx, lse);
    lv_context_destroy(ctx);
  }
  // Grow-only device buffer; returns false (with lv_last_error set) on failure.
  bool ensure(void** ptr, size_t* have, size_t bytes) {
    if (*have >= bytes && *ptr) return true;
    if (*ptr) lv_free(ctx, *ptr);
    *ptr = nullptr;
    *have = 0;
    if (lv_malloc(ctx, ptr, bytes) != LV_OK) return false;
    *have = bytes;
    return true;
  }
};

struct DeviceLayout {
  std::shared_ptr<State> state;
  lv_layout layout{};
  void* rowPtr = nullptr;
  void* colIdx = nullptr;
  void release() {
    if (rowPtr) lv_free(state->ctx, rowPtr);
    if (colIdx) lv_free(state->ctx, colIdx);
    rowPtr = colIdx = nullptr;
  }
  ~DeviceLayout() { release(); }
};

struct KvCache {
  std::shared_ptr<State> state;
  int numKvHeads = 0, capacity = 0, headDim = 0;
  lv_dtype dtype = LV_BF16;
  void* k = nullptr;
  void* v = nullptr;
  void release() {
    if (k) lv_free(state->ctx, k);
    if (v) lv_free(state->ctx, v);
    k = v = nullptr;
  }
  ~KvCache() { release(); }
};

std::string lastError() { return std::string(lv_last_error()); }

int32_t intField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("expected a number in field '") + name + "'");
  return v.As<Napi::Number>().Int32Value();
}

lv_dtype parseDtype(const Napi::Value& v) {
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "bf16";
  if (s == "bf16") return LV_BF16;
  if (s == "fp16") return LV_FP16;
  throw Napi::TypeError::New(v.Env(), "dtype must be 'bf16' or 'fp16'");
}

template <typename T>
T* unwrapExternal(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), std::string("expected a ") + what + " handle");
  return v.As<Napi::External<T>>().Data();
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  lv_device_info di;
  const int rc = lv_device_query(device, &di);
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", rc == LV_OK);
  if (rc != LV_OK) o.Set("reason", lastError());
  o.Set("deviceCount", di.deviceCount);
  o.Set("driverVersion", di.driverVersion);
  o.Set("runtimeVersion", di.runtimeVersion);
  if (rc == LV_OK) {
    o.Set("name", std::string(di.name));
    o.Set("computeCapability", std::to_string(di.major) + "." + std::to_string(di.minor));
    o.Set("multiProcessors", di.multiProcessors);
    o.Set("wgmma", di.hasWgmmaPath != 0);
  }
  return o;
}

class AttentionWorker : public Napi::AsyncWorker {
 public:
  AttentionWorker(Napi::Env env, std::shared_ptr<State> state, lv_shape shape, Napi::External<DeviceLayout> layout,
                  Napi::External<KvCache> cache, Napi::Float32Array q, Napi::Float32Array out, Napi::Value lse, int path)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), state_(std::move(state)), shape_(shape),
        layout_(layout.Data()->layout), cache_(cache.Data()), path_(path) {
    // Keep every array and handle alive (and unfreed) until the call has finished.
    layoutRef_ = Napi::Persistent(layout);
    cacheRef_ = Napi::Persistent(cache);
    q_ = q.Data();
    out_ = out.Data();
    qRef_ = Napi::Persistent(q);
    outRef_ = Napi::Persistent(out);
    if (lse.IsTypedArray()) {
      lse_ = lse.As<Napi::Float32Array>().Data();
      lseRef_ = Napi::Persistent(lse.As<Napi::Object>());
    }
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    State& s = *state_;
    const size_t n = (size_t)shape_.numHeads * shape_.queryLength * shape_.headDim;
    const size_t rows = (size_t)shape_.numHeads * shape_.queryLength;
    const lv_dtype dt = cache_->dtype;
    auto check = [&](int rc) {
      if (rc != LV_OK) throw std::runtime_error(lastError());
    };
    try {
      if (!s.ensure(&s.scratch[0], &s.scratchBytes[0], n * 4) || !s.ensure(&s.scratch[1], &s.scratchBytes[1], n * 2) ||
          !s.ensure(&s.scratch[2], &s.scratchBytes[2], n * 2) || !s.ensure(&s.scratch[3], &s.scratchBytes[3], n * 4) ||
          !s.ensure((void**)&s.lse, &s.lseBytes, rows * 4))
        throw std::runtime_error(lastError());
      check(lv_memcpy_h2d(s.ctx, s.scratch[0], q_, n * 4));
      check(lv_convert_from_f32(s.ctx, dt, s.scratch[1], n, (const float*)s.scratch[0], n, n, 1));
      check(lv_attention(s.ctx, &shape_, &layout_, dt, s.scratch[1], cache_->k, cache_->v, s.scratch[2], s.lse, nullptr, path_));
      check(lv_convert_to_f32(s.ctx, dt, (float*)s.scratch[3], s.scratch[2], n));
      check(lv_memcpy_d2h(s.ctx, out_, s.scratch[3], n * 4));
      if (lse_) check(lv_memcpy_d2h(s.ctx, lse_, s.lse, rows * 4));
      check(lv_synchronize(s.ctx));
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<State> state_;
  lv_shape shape_;
  lv_layout layout_;
  KvCache* cache_;
  int path_;
  const float* q_ = nullptr;
  float* out_ = nullptr;
  float* lse_ = nullptr;
  Napi::Reference<Napi::Float32Array> qRef_, outRef_;
  Napi::ObjectReference lseRef_;
  Napi::Reference<Napi::External<DeviceLayout>> layoutRef_;
  Napi::Reference<Napi::External<KvCache>> cacheRef_;
};

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Context",
                       {InstanceMethod("uploadLayout", &Context::UploadLayout), InstanceMethod("createKvCache", &Context::CreateKvCache),
                        InstanceMethod("writeKv", &Context::WriteKv), InstanceMethod("attention", &Context::Attention),
                        InstanceMethod("release", &Context::Release), InstanceMethod("dispose", &Context::Dispose)});
  }

  explicit Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
    const int device = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    auto st = std::make_shared<State>();
    if (lv_context_create(device, &st->ctx) != LV_OK) {
      st->ctx = nullptr;
      throw Napi::Error::New(info.Env(), lastError());
    }
    state_ = st;
  }

 private:
  std::shared_ptr<State> state_;

  std::shared_ptr<State> live(Napi::Env env) {
    if (!state_) throw Napi::Error::New(env, "CUDA context was disposed");
    return state_;
  }

  // uploadLayout({blockSize, numLayouts, numBlockRows, maxNnz, rowPtr: Int32Array, colIdx: Int32Array})
  Napi::Value UploadLayout(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto st = live(env);
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "uploadLayout expects a layout object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto dl = std::make_unique<DeviceLayout>();
    dl->state = st;
    dl->layout.blockSize = intField(o, "blockSize");
    dl->layout.numLayouts = intField(o, "numLayouts");
    dl->layout.numBlockRows = intField(o, "numBlockRows");
    dl->layout.maxNnz = intField(o, "maxNnz");
    Napi::Value rp = o.Get("rowPtr"), ci = o.Get("colIdx");
    if (!rp.IsTypedArray() || rp.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !ci.IsTypedArray() ||
        ci.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "layout rowPtr and colIdx must be Int32Array");
    Napi::Int32Array rowPtr = rp.As<Napi::Int32Array>(), colIdx = ci.As<Napi::Int32Array>();
    const size_t wantRp = (size_t)dl->layout.numLayouts * (dl->layout.numBlockRows + 1);
    const size_t wantCi = (size_t)dl->layout.numLayouts * dl->layout.maxNnz;
    if (rowPtr.ElementLength() != wantRp || colIdx.ElementLength() < wantCi)
      throw Napi::RangeError::New(env, "layout arrays do not match numLayouts/numBlockRows/maxNnz");
    std::lock_guard<std::mutex> lock(st->mu);
    if (lv_malloc(st->ctx, &dl->rowPtr, wantRp * 4) != LV_OK || lv_malloc(st->ctx, &dl->colIdx, wantCi * 4) != LV_OK ||
        lv_memcpy_h2d(st->ctx, dl->rowPtr, rowPtr.Data(), wantRp * 4) != LV_OK ||
        lv_memcpy_h2d(st->ctx, dl->colIdx, colIdx.Data(), wantCi * 4) != LV_OK)
      throw Napi::Error::New(env, lastError());
    dl->layout.rowPtr = (const int32_t*)dl->rowPtr;
    dl->layout.colIdx = (const int32_t*)dl->colIdx;
    return Napi::External<DeviceLayout>::New(env, dl.release(), [](Napi::Env, DeviceLayout* p) { delete p; });
  }

  // createKvCache(numKvHeads, capacity, headDim, dtype)
  Napi::Value CreateKvCache(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto st = live(env);
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
      throw Napi::TypeError::New(env, "createKvCache(numKvHeads, capacity, headDim, dtype?)");
    auto kv = std::make_unique<KvCache>();
    kv->state = st;
    kv->numKvHeads = info[0].As<Napi::Number>().Int32Value();
    kv->capacity = info[1].As<Napi::Number>().Int32Value();
    kv->headDim = info[2].As<Napi::Number>().Int32Value();
    kv->dtype = parseDtype(info.Length() > 3 ? info[3] : env.Undefined());
    if (kv->numKvHeads <= 0 || kv->capacity <= 0 || kv->headDim <= 0) throw Napi::RangeError::New(env, "KV cache sizes must be positive");
    const size_t bytes = (size_t)kv->numKvHeads * kv->capacity * kv->headDim * 2;
    std::lock_guard<std::mutex> lock(st->mu);
    if (lv_malloc(st->ctx, &kv->k, bytes) != LV_OK || lv_malloc(st->ctx, &kv->v, bytes) != LV_OK) throw Napi::Error::New(env, lastError());
    return Napi::External<KvCache>::New(env, kv.release(), [](Napi::Env, KvCache* p) { delete p; });
  }

  // writeKv(cache, k: Float32Array, v: Float32Array, start, count): rows [numKvHeads][count][headDim] land in
  // cache rows [start, start + count) of every KV head.
  Napi::Value WriteKv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto st = live(env);
    KvCache* kv = unwrapExternal<KvCache>(info[0], "KV cache");
    if (!info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsNumber() || !info[4].IsNumber())
      throw Napi::TypeError::New(env, "writeKv(cache, k: Float32Array, v: Float32Array, start, count)");
    Napi::Float32Array k = info[1].As<Napi::Float32Array>(), v = info[2].As<Napi::Float32Array>();
    const int start = info[3].As<Napi::Number>().Int32Value(), count = info[4].As<Napi::Number>().Int32Value();
    if (start < 0 || count < 0 || start + count > kv->capacity) throw Napi::RangeError::New(env, "writeKv rows fall outside the cache capacity");
    const size_t n = (size_t)kv->numKvHeads * count * kv->headDim;
    if (k.ElementLength() != n || v.ElementLength() != n) throw Napi::RangeError::New(env, "writeKv: k and v must hold numKvHeads * count * headDim floats");
    if (n == 0) return env.Undefined();
    std::lock_guard<std::mutex> lock(st->mu);
    State& s = *st;
    const size_t rowElems = (size_t)count * kv->headDim, pitch = (size_t)kv->capacity * kv->headDim;
    for (int which = 0; which < 2; ++which) {
      const float* src = which == 0 ? k.Data() : v.Data();
      char* dst = (char*)(which == 0 ? kv->k : kv->v) + (size_t)start * kv->headDim * 2;
      if (!s.ensure(&s.scratch[0], &s.scratchBytes[0], n * 4) || lv_memcpy_h2d(s.ctx, s.scratch[0], src, n * 4) != LV_OK ||
          lv_convert_from_f32(s.ctx, kv->dtype, dst, pitch, (const float*)s.scratch[0], rowElems, rowElems, kv->numKvHeads) != LV_OK ||
          lv_synchronize(s.ctx) != LV_OK)
        throw Napi::Error::New(env, lastError());
    }
    return env.Undefined();
  }

  // attention(shape, layout, q: Float32Array, cache, out: Float32Array, lse: Float32Array | null, path) -> Promise
  Napi::Value Attention(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto st = live(env);
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "attention expects a shape object first");
    Napi::Object so = info[0].As<Napi::Object>();
    lv_shape shape;
    shape.numHeads = intField(so, "numHeads");
    shape.numKvHeads = intField(so, "numKvHeads");
    shape.headDim = intField(so, "headDim");
    shape.queryStart = intField(so, "queryStart");
    shape.queryLength = intField(so, "queryLength");
    shape.kvLength = intField(so, "kvLength");
    shape.kvCapacity = intField(so, "kvCapacity");
    Napi::Value sc = so.Get("scale");
    if (!sc.IsNumber()) throw Napi::TypeError::New(env, "expected a number in field 'scale'");
    shape.scale = sc.As<Napi::Number>().FloatValue();
    DeviceLayout* dl = unwrapExternal<DeviceLayout>(info[1], "layout");
    KvCache* kv = unwrapExternal<KvCache>(info[3], "KV cache");
    if (!info[2].IsTypedArray() || !info[4].IsTypedArray()) throw Napi::TypeError::New(env, "q and out must be Float32Array");
    Napi::Float32Array q = info[2].As<Napi::Float32Array>(), out = info[4].As<Napi::Float32Array>();
    const size_t n = (size_t)shape.numHeads * shape.queryLength * shape.headDim;
    if (q.ElementLength() != n || out.ElementLength() != n) throw Napi::RangeError::New(env, "q and out must hold numHeads * queryLength * headDim floats");
    Napi::Value lse = info.Length() > 5 ? info[5] : env.Null();
    if (lse.IsTypedArray() && lse.As<Napi::Float32Array>().ElementLength() != (size_t)shape.numHeads * shape.queryLength)
      throw Napi::RangeError::New(env, "lse must hold numHeads * queryLength floats");
    if (kv->numKvHeads != shape.numKvHeads || kv->capacity != shape.kvCapacity || kv->headDim != shape.headDim)
      throw Napi::RangeError::New(env, "the KV cache does not match numKvHeads / kvCapacity / headDim of the shape");
    const int path = info.Length() > 6 && info[6].IsNumber() ? info[6].As<Napi::Number>().Int32Value() : LV_PATH_AUTO;
    if (!dl->rowPtr || !kv->k) throw Napi::Error::New(env, "the layout or KV cache handle was released");
    auto* w = new AttentionWorker(env, st, shape, info[1].As<Napi::External<DeviceLayout>>(), info[3].As<Napi::External<KvCache>>(), q, out, lse, path);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }

  // release(handle): frees a layout's or a KV cache's device memory now rather than at garbage collection.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(live(info.Env())->mu);
    Napi::Value h = info[0];
    if (!h.IsExternal()) throw Napi::TypeError::New(info.Env(), "release expects a handle");
    const std::string kind = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    if (kind == "layout") h.As<Napi::External<DeviceLayout>>().Data()->release();
    else if (kind == "kv") h.As<Napi::External<KvCache>>().Data()->release();
    else throw Napi::TypeError::New(info.Env(), "release(handle, 'layout' | 'kv')");
    return info.Env().Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    state_.reset();  // the context goes once no layout, cache or running call holds it
    return info.Env().Undefined();
  }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo));
  exports.Set("Context", Context::Init(env));
  exports.Set("pathIds", [&] {
    Napi::Object o = Napi::Object::New(env);
    o.Set("auto", Napi::Number::New(env, LV_PATH_AUTO));
    o.Set("mma", Napi::Number::New(env, LV_PATH_MMA));
    o.Set("wgmma", Napi::Number::New(env, LV_PATH_WGMMA));
    o.Set("wgmmaPipelined", Napi::Number::New(env, LV_PATH_WGMMA_PIPELINED));
    o.Set("wgmmaPingpong", Napi::Number::New(env, LV_PATH_WGMMA_PINGPONG));
    return o;
  }());
  return exports;
}

}  // namespace

NODE_API_MODULE(longview_cuda, Init)
