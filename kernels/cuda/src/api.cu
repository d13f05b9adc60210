// The C API (include/longview_attention.h): validation, kernel choice, workspace, tensor maps.
#include <cudaTypedefs.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "../include/longview_attention.h"
#include "launch.h"

struct lv_context {
  int device = 0;
  int numSMs = 0;
  int major = 0, minor = 0;
  bool hopper = false;
  cudaStream_t stream = nullptr;
  float* workspace = nullptr;
  size_t workspaceFloats = 0;
};

namespace {

thread_local std::string g_error;

int fail(int code, const std::string& msg) {
  g_error = msg;
  return code;
}
int cuda_fail(cudaError_t e, const char* what) {
  std::string msg = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorInitializationError)
    return fail(LV_E_NO_DEVICE, "no CUDA device: " + msg);
  return fail(LV_E_CUDA, msg);
}
#define LV_CUDA(call)                                          \
  do {                                                         \
    cudaError_t e_ = (call);                                   \
    if (e_ != cudaSuccess) return cuda_fail(e_, #call);        \
  } while (0)

PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) == cudaSuccess &&
        q == cudaDriverEntryPointSuccess)
      fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  });
  return fn;
}

// 3-D map over [heads][rows][headDim] with a row stride of headDim and a head stride of headStrideRows rows;
// `rows` bounds the map, so TMA zero-fills everything at or past it.
bool make_map(CUtensorMap* map, lv::DType dt, const void* ptr, int headDim, int rows, long long headStrideRows,
              int heads, int boxRows, std::string& why) {
  auto enc = tensor_map_encoder();
  if (!enc) {
    why = "cuTensorMapEncodeTiled is not available from the driver";
    return false;
  }
  const cuuint64_t dims[3] = {(cuuint64_t)headDim, (cuuint64_t)rows, (cuuint64_t)heads};
  const cuuint64_t strides[2] = {(cuuint64_t)headDim * 2, (cuuint64_t)(headStrideRows * headDim * 2)};
  const cuuint32_t box[3] = {64, (cuuint32_t)boxRows, 1};
  const cuuint32_t elem[3] = {1, 1, 1};
  CUresult r = enc(map, dt == lv::DType::BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3,
                   const_cast<void*>(ptr), dims, strides, box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE,
                   CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    why = "cuTensorMapEncodeTiled failed with CUresult " + std::to_string((int)r);
    return false;
  }
  return true;
}

int validate(const lv_shape& s, const lv_layout& l, lv_dtype dtype) {
  auto bad = [](const std::string& m) { return fail(LV_E_INVALID, m); };
  if (dtype != LV_BF16 && dtype != LV_FP16) return bad("dtype must be LV_BF16 or LV_FP16");
  if (s.numHeads <= 0 || s.numKvHeads <= 0 || s.numHeads % s.numKvHeads != 0)
    return bad("numHeads (" + std::to_string(s.numHeads) + ") must be a positive multiple of numKvHeads (" +
               std::to_string(s.numKvHeads) + ")");
  if (s.queryStart < 0 || s.queryLength <= 0 || s.kvLength != s.queryStart + s.queryLength)
    return bad("need queryStart >= 0, queryLength > 0 and kvLength == queryStart + queryLength");
  if (s.kvCapacity < s.kvLength) return bad("kvCapacity is smaller than kvLength");
  if (!(std::isfinite(s.scale))) return bad("scale must be finite");
  if (l.blockSize <= 0 || l.numLayouts <= 0 || l.numBlockRows <= 0 || l.maxNnz <= 0 || !l.rowPtr || !l.colIdx)
    return bad("layout needs positive blockSize, numLayouts, numBlockRows, maxNnz and device rowPtr/colIdx");
  if ((long long)l.numBlockRows * l.blockSize < s.kvLength) return bad("layout has fewer block rows than kvLength needs");
  if (s.headDim != 64 && s.headDim != 128)
    return fail(LV_E_UNSUPPORTED, "headDim " + std::to_string(s.headDim) + " is not built (64 or 128)");
  if (l.blockSize % 16 != 0)
    return fail(LV_E_UNSUPPORTED, "blockSize " + std::to_string(l.blockSize) + " is not a multiple of 16");
  return LV_OK;
}

}  // namespace

extern "C" {

const char* lv_last_error(void) { return g_error.c_str(); }

int lv_device_query(int device, lv_device_info* info) {
  if (!info) return fail(LV_E_INVALID, "info is NULL");
  std::memset(info, 0, sizeof(*info));
  cudaRuntimeGetVersion(&info->runtimeVersion);
  cudaDriverGetVersion(&info->driverVersion);  // 0 when no driver is installed
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (info->driverVersion == 0)
      return fail(LV_E_NO_DEVICE, "no CUDA device: no NVIDIA driver is installed (libcuda could not be loaded)");
    return cuda_fail(e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice ? e : cudaErrorNoDevice,
                     "cudaGetDeviceCount");
  }
  info->deviceCount = count;
  if (count == 0) return fail(LV_E_NO_DEVICE, "no CUDA device: cudaGetDeviceCount reported 0 devices");
  if (device < 0 || device >= count) return fail(LV_E_INVALID, "device index out of range");
  cudaDeviceProp prop;
  LV_CUDA(cudaGetDeviceProperties(&prop, device));
  info->major = prop.major;
  info->minor = prop.minor;
  info->multiProcessors = prop.multiProcessorCount;
  std::snprintf(info->name, sizeof(info->name), "%s", prop.name);
  int prev = 0;
  cudaGetDevice(&prev);
  cudaSetDevice(device);
  info->hasWgmmaPath = prop.major == 9 && prop.minor == 0 && lv::wgmma_compiled(lv::DType::BF16, 128) ? 1 : 0;
  cudaSetDevice(prev);
  return LV_OK;
}

int lv_context_create(int device, lv_context** out) {
  if (!out) return fail(LV_E_INVALID, "out is NULL");
  *out = nullptr;
  lv_device_info info;
  int rc = lv_device_query(device, &info);
  if (rc != LV_OK) return rc;
  if (info.major < 8)
    return fail(LV_E_UNSUPPORTED, std::string("GPU ") + info.name + " (compute capability " + std::to_string(info.major) +
                                      "." + std::to_string(info.minor) + ") is older than sm_80, which the kernels need");
  auto* ctx = new lv_context();
  ctx->device = device;
  ctx->numSMs = info.multiProcessors;
  ctx->major = info.major;
  ctx->minor = info.minor;
  ctx->hopper = info.hasWgmmaPath != 0;
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    delete ctx;
    return cuda_fail(e, "creating the context's stream");
  }
  *out = ctx;
  return LV_OK;
}

void lv_context_destroy(lv_context* ctx) {
  if (!ctx) return;
  cudaSetDevice(ctx->device);
  if (ctx->stream) {
    cudaStreamSynchronize(ctx->stream);
    cudaStreamDestroy(ctx->stream);
  }
  if (ctx->workspace) cudaFree(ctx->workspace);
  delete ctx;
}

void* lv_context_stream(lv_context* ctx) { return ctx ? (void*)ctx->stream : nullptr; }

// Launch options, read at every launch so kernels/cuda/bench/bench_gpu.py can time the choices side by side in one
// process; nothing else sets them. The defaults — the KV-head-major tile order and a 3-deep K/V ring for the
// sequential wgmma kernel — won on an H100 at every benchmark shape but one (docs/benchmarks/kernels-cuda.md, 2026-12-07);
// LONGVIEW_CUDA_PREFILL_ORDER=heads and LONGVIEW_CUDA_WGMMA_STAGES=2 bring back the earlier choices for comparison.
static int prefill_tile_order() {
  const char* v = std::getenv("LONGVIEW_CUDA_PREFILL_ORDER");
  return v && std::strcmp(v, "heads") == 0 ? lv::kTileOrderHeadsFastest : lv::kTileOrderKvMajor;
}
static int wgmma_stages() {
  const char* v = std::getenv("LONGVIEW_CUDA_WGMMA_STAGES");
  return v && std::strcmp(v, "2") == 0 ? 2 : 3;
}
// The sequential wgmma kernel's softmax: "lean" (the default: masks only the diagonal tile, folds the scale into the
// exponent, rescales the output only when a row's max jumps by more than 2^8; 1.24-1.34x FlexAttention where the
// eager one gave 1.09-1.22x on an H100, docs/benchmarks/kernels-cuda.md) or "eager" (LONGVIEW_CUDA_WGMMA_SOFTMAX=eager:
// every tile rescaled, the earlier default).
static bool wgmma_lean_softmax() {
  const char* v = std::getenv("LONGVIEW_CUDA_WGMMA_SOFTMAX");
  return !(v && std::strcmp(v, "eager") == 0);
}

int lv_attention(lv_context* ctx, const lv_shape* shape, const lv_layout* layout, lv_dtype dtype, const void* q,
                 const void* k, const void* v, void* out, float* lse, void* stream, int path) {
  if (!ctx || !shape || !layout || !q || !k || !v || !out) return fail(LV_E_INVALID, "NULL argument");
  const lv_shape& s = *shape;
  const lv_layout& l = *layout;
  int rc = validate(s, l, dtype);
  if (rc != LV_OK) return rc;
  for (const void* ptr : {q, k, v, (const void*)out})
    if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) return fail(LV_E_INVALID, "q, k, v and out must be 16-byte aligned");
  LV_CUDA(cudaSetDevice(ctx->device));
  cudaStream_t st = stream ? (cudaStream_t)stream : ctx->stream;
  const lv::DType dt = dtype == LV_BF16 ? lv::DType::BF16 : lv::DType::FP16;

  lv::Params p{};
  p.q = q;
  p.k = k;
  p.v = v;
  p.out = out;
  p.lse = lse;
  p.rowPtr = l.rowPtr;
  p.colIdx = l.colIdx;
  p.numHeads = s.numHeads;
  p.numKvHeads = s.numKvHeads;
  p.headDim = s.headDim;
  p.queryStart = s.queryStart;
  p.queryLength = s.queryLength;
  p.kvLength = s.kvLength;
  p.kvCapacity = s.kvCapacity;
  p.blockSize = l.blockSize;
  p.numLayouts = l.numLayouts;
  p.numBlockRows = l.numBlockRows;
  p.maxNnz = l.maxNnz;
  p.scaleLog2 = s.scale * 1.4426950408889634f;
  p.tileOrder = prefill_tile_order();

  if (s.queryLength == 1) {
    p.setsPerKvHead = lv::decode_sets_per_kv_head(s.numHeads, s.numKvHeads, l.numLayouts);
    const int sets = s.numKvHeads * p.setsPerKvHead;
    // Enough CTAs for ~4 per SM, but at least two 16-key sub-tiles per warp of a split.
    const long long subtiles = (long long)(s.queryStart / l.blockSize + 1) * (l.blockSize / 16);
    long long splits = (4LL * ctx->numSMs + sets - 1) / sets;
    splits = std::min(splits, std::max(1LL, subtiles / 8));
    splits = std::max(1LL, std::min(splits, 1024LL));
    p.numSplits = (int)splits;
    const size_t need = (size_t)s.numHeads * p.numSplits * (s.headDim + 1);
    if (need > ctx->workspaceFloats) {
      if (ctx->workspace) {
        LV_CUDA(cudaStreamSynchronize(st));
        LV_CUDA(cudaFree(ctx->workspace));
        ctx->workspace = nullptr;
        ctx->workspaceFloats = 0;
      }
      LV_CUDA(cudaMalloc(&ctx->workspace, need * sizeof(float)));
      ctx->workspaceFloats = need;
    }
    p.wsOut = ctx->workspace;
    p.wsLse = ctx->workspace + (size_t)s.numHeads * p.numSplits * s.headDim;
    cudaError_t e = lv::launch_decode(p, dt, st);
    if (e != cudaSuccess) return cuda_fail(e, "decode launch");
    return LV_OK;
  }

  int bm = 0, bn = 0;
  lv::wgmma_tiles(l.blockSize, s.headDim, &bm, &bn);
  const bool wgmmaFits = bm > 0;
  const bool wantWgmma = path == LV_PATH_WGMMA || path == LV_PATH_WGMMA_PIPELINED || path == LV_PATH_WGMMA_PINGPONG;
  if (path < LV_PATH_AUTO || path > LV_PATH_WGMMA_PINGPONG) return fail(LV_E_INVALID, "unknown path");
  if (wantWgmma && !ctx->hopper)
    return fail(LV_E_UNSUPPORTED, "the wgmma path needs an sm_90 GPU and a binary built for sm_90a");
  if (wantWgmma && !wgmmaFits)
    return fail(LV_E_UNSUPPORTED, "the wgmma path needs blockSize a multiple of 64");
  if ((wantWgmma || path == LV_PATH_AUTO) && ctx->hopper && wgmmaFits) {
    // The lean softmax finds each row's max on unscaled scores, so it needs a positive scale.
    const int variant = path == LV_PATH_WGMMA_PIPELINED ? 1 : path == LV_PATH_WGMMA_PINGPONG ? 2
                      : wgmma_lean_softmax() && p.scaleLog2 > 0.f ? 3 : 0;
    CUtensorMap maps[3];
    std::string why;
    if (!make_map(&maps[0], dt, q, s.headDim, s.queryLength, s.queryLength, s.numHeads, bm, why) ||
        !make_map(&maps[1], dt, k, s.headDim, s.kvLength, s.kvCapacity, s.numKvHeads, bn, why) ||
        !make_map(&maps[2], dt, v, s.headDim, s.kvLength, s.kvCapacity, s.numKvHeads, bn, why))
      return fail(LV_E_CUDA, why);
    cudaError_t e = lv::launch_prefill_wgmma(p, dt, maps, variant, wgmma_stages(), st);
    if (e != cudaSuccess) return cuda_fail(e, "wgmma prefill launch");
    return LV_OK;
  }
  cudaError_t e = lv::launch_prefill_mma(p, dt, st);
  if (e != cudaSuccess) return cuda_fail(e, "mma prefill launch");
  return LV_OK;
}

int lv_malloc(lv_context* ctx, void** ptr, size_t bytes) {
  if (!ctx || !ptr) return fail(LV_E_INVALID, "NULL argument");
  LV_CUDA(cudaSetDevice(ctx->device));
  LV_CUDA(cudaMalloc(ptr, bytes ? bytes : 1));
  return LV_OK;
}
int lv_free(lv_context* ctx, void* ptr) {
  if (!ctx) return fail(LV_E_INVALID, "NULL context");
  LV_CUDA(cudaSetDevice(ctx->device));
  LV_CUDA(cudaStreamSynchronize(ctx->stream));
  LV_CUDA(cudaFree(ptr));
  return LV_OK;
}
int lv_memcpy_h2d(lv_context* ctx, void* dst, const void* src, size_t bytes) {
  if (!ctx) return fail(LV_E_INVALID, "NULL context");
  LV_CUDA(cudaSetDevice(ctx->device));
  LV_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
  LV_CUDA(cudaStreamSynchronize(ctx->stream));
  return LV_OK;
}
int lv_memcpy_d2h(lv_context* ctx, void* dst, const void* src, size_t bytes) {
  if (!ctx) return fail(LV_E_INVALID, "NULL context");
  LV_CUDA(cudaSetDevice(ctx->device));
  LV_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
  LV_CUDA(cudaStreamSynchronize(ctx->stream));
  return LV_OK;
}
int lv_memcpy2d_h2d(lv_context* ctx, void* dst, size_t dstPitch, const void* src, size_t srcPitch, size_t rowBytes,
                    size_t rows) {
  if (!ctx) return fail(LV_E_INVALID, "NULL context");
  LV_CUDA(cudaSetDevice(ctx->device));
  LV_CUDA(cudaMemcpy2DAsync(dst, dstPitch, src, srcPitch, rowBytes, rows, cudaMemcpyHostToDevice, ctx->stream));
  LV_CUDA(cudaStreamSynchronize(ctx->stream));
  return LV_OK;
}
int lv_synchronize(lv_context* ctx) {
  if (!ctx) return fail(LV_E_INVALID, "NULL context");
  LV_CUDA(cudaSetDevice(ctx->device));
  LV_CUDA(cudaStreamSynchronize(ctx->stream));
  LV_CUDA(cudaGetLastError());
  return LV_OK;
}

}  // extern "C"
