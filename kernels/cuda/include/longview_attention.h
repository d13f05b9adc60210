/*
 * Longview block-sparse attention on CUDA: the C API.
 *
 * Semantics are those of kernels/api.ts: a CSR block layout (rowPtr/colIdx per layout, head h uses layout
 * h % numLayouts), causal everywhere (inside the diagonal block too), grouped-query attention, and a KV cache
 * with a row stride of kvCapacity tokens so it can grow in place. Every pointer passed to lv_attention is a
 * DEVICE pointer; tensors are row-major:
 *   q   [numHeads][queryLength][headDim]     (bf16 or fp16)
 *   k,v [numKvHeads][kvCapacity][headDim]    (same type as q; rows >= kvLength are never read)
 *   out [numHeads][queryLength][headDim]     (same type as q)
 *   lse [numHeads][queryLength]              (float32, natural log of the softmax normaliser; may be NULL)
 *   rowPtr [numLayouts][numBlockRows + 1], colIdx [numLayouts][maxNnz]   (int32)
 *
 * Every function returns 0 on success or a negative LV_E* code; lv_last_error() describes the last failure
 * of the calling thread.
 */
#ifndef LONGVIEW_ATTENTION_H
#define LONGVIEW_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LV_API __declspec(dllexport)
#else
#define LV_API __attribute__((visibility("default")))
#endif

enum {
  LV_OK = 0,
  LV_E_NO_DEVICE = -1,   /* no CUDA device or no usable driver */
  LV_E_INVALID = -2,     /* bad shape, layout or argument */
  LV_E_UNSUPPORTED = -3, /* valid, but not built for this head dim / block size / GPU */
  LV_E_CUDA = -4,        /* a CUDA call failed (message has the CUDA error) */
};

typedef enum { LV_BF16 = 0, LV_FP16 = 1 } lv_dtype;

/* Which kernel runs a prefill; AUTO picks wgmma on Hopper when the block size allows it, else mma.sync.
 * WGMMA is the sequential warp-specialised kernel (verified and measured). PIPELINED and PINGPONG are
 * FlashAttention-3-style experiments that compile but have not yet been run on a GPU: never the default. */
enum { LV_PATH_AUTO = 0, LV_PATH_MMA = 1, LV_PATH_WGMMA = 2, LV_PATH_WGMMA_PIPELINED = 3, LV_PATH_WGMMA_PINGPONG = 4 };

typedef struct {
  int32_t numHeads, numKvHeads, headDim;
  int32_t queryStart, queryLength, kvLength, kvCapacity;
  float scale;
} lv_shape;

typedef struct {
  int32_t blockSize, numLayouts, numBlockRows, maxNnz;
  const int32_t* rowPtr; /* device */
  const int32_t* colIdx; /* device */
} lv_layout;

typedef struct lv_context lv_context;

typedef struct {
  int32_t deviceCount;
  int32_t major, minor, multiProcessors;
  int32_t driverVersion, runtimeVersion;
  int32_t hasWgmmaPath; /* this binary carries sm_90a code and the device is compute capability 9.0 */
  char name[256];
} lv_device_info;

/* Thread-local description of the last failure ("" when none). */
LV_API const char* lv_last_error(void);

/* Fills `info` for device `device`; returns LV_E_NO_DEVICE (with a reason) where CUDA has no device. */
LV_API int lv_device_query(int device, lv_device_info* info);

LV_API int lv_context_create(int device, lv_context** out);
LV_API void lv_context_destroy(lv_context* ctx);
/* The CUDA stream the context launches on when lv_attention gets stream == NULL. */
LV_API void* lv_context_stream(lv_context* ctx);

/*
 * One attention call. queryLength == 1 runs the split-K decode kernel; otherwise the prefill kernel
 * (`path` picks mma.sync or wgmma; AUTO chooses). `stream` may be NULL (the context's stream). Asynchronous:
 * synchronize the stream before reading `out`.
 */
LV_API int lv_attention(lv_context* ctx, const lv_shape* shape, const lv_layout* layout, lv_dtype dtype,
                        const void* q, const void* k, const void* v, void* out, float* lse, void* stream, int path);

/* Small device-memory helpers so that a caller without the CUDA runtime (the Node addon) can stage data. */
LV_API int lv_malloc(lv_context* ctx, void** ptr, size_t bytes);
LV_API int lv_free(lv_context* ctx, void* ptr);
LV_API int lv_memcpy_h2d(lv_context* ctx, void* dst, const void* src, size_t bytes);
LV_API int lv_memcpy_d2h(lv_context* ctx, void* dst, const void* src, size_t bytes);
/* Strided 2-D copy host->device: `rows` rows of `rowBytes`, with byte pitches (for writing KV-cache rows). */
LV_API int lv_memcpy2d_h2d(lv_context* ctx, void* dst, size_t dstPitch, const void* src, size_t srcPitch,
                           size_t rowBytes, size_t rows);
LV_API int lv_synchronize(lv_context* ctx);

/* Conversions on the device (asynchronous on the context's stream): float32 rows into bf16/fp16 with a
 * destination pitch (so rows can land inside a KV cache of larger capacity), and bf16/fp16 back to float32. */
LV_API int lv_convert_from_f32(lv_context* ctx, lv_dtype dtype, void* dst, size_t dstPitchElems, const float* src,
                               size_t srcPitchElems, size_t rowElems, size_t rows);
LV_API int lv_convert_to_f32(lv_context* ctx, lv_dtype dtype, float* dst, const void* src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
