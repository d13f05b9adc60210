"""ctypes binding of kernels/cuda's C API (build/nvcc/liblongview_cuda.so) for torch tensors on the GPU.
Used by the device-side correctness check and the benchmark; Node is not on the GPU machine."""
import ctypes
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LIB = os.path.join(HERE, "..", "build", "nvcc", "liblongview_cuda.so")
PATHS = {"auto": 0, "mma": 1, "wgmma": 2, "wgmma-pipe": 3, "wgmma-pingpong": 4}


class Shape(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("numHeads", "numKvHeads", "headDim", "queryStart", "queryLength", "kvLength", "kvCapacity")] + [("scale", ctypes.c_float)]


class Layout(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("blockSize", "numLayouts", "numBlockRows", "maxNnz")] + [("rowPtr", ctypes.c_void_p), ("colIdx", ctypes.c_void_p)]


class DeviceInfo(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("deviceCount", "major", "minor", "multiProcessors", "driverVersion", "runtimeVersion", "hasWgmmaPath")] + [("name", ctypes.c_char * 256)]


class LvCuda:
    def __init__(self, lib_path=None, device=0):
        self.lib = ctypes.CDLL(lib_path or os.environ.get("LONGVIEW_CUDA_LIB", DEFAULT_LIB))
        self.lib.lv_last_error.restype = ctypes.c_char_p
        self.lib.lv_context_stream.restype = ctypes.c_void_p
        self.lib.lv_context_stream.argtypes = [ctypes.c_void_p]
        self.lib.lv_attention.argtypes = [ctypes.c_void_p, ctypes.POINTER(Shape), ctypes.POINTER(Layout), ctypes.c_int] + [ctypes.c_void_p] * 6 + [ctypes.c_int]
        info = DeviceInfo()
        self._check(self.lib.lv_device_query(device, ctypes.byref(info)))
        self.info = info
        self.ctx = ctypes.c_void_p()
        self._check(self.lib.lv_context_create(device, ctypes.byref(self.ctx)))

    def _check(self, rc):
        if rc != 0:
            raise RuntimeError(f"lv error {rc}: {self.lib.lv_last_error().decode()}")

    def attention(self, q, k, v, out, lse, layout, query_start, kv_length, scale=None, path="auto"):
        """q [H][qLen][D], k/v [Hkv][cap][D], out like q, lse [H][qLen] float32 or None.
        layout: dict with blockSize, numLayouts, numBlockRows, maxNnz, rowPtr, colIdx (int32 CUDA tensors)."""
        H, qlen, D = q.shape
        Hkv, cap, _ = k.shape
        dtype = {torch.bfloat16: 0, torch.float16: 1}[q.dtype]
        shape = Shape(H, Hkv, D, query_start, qlen, kv_length, cap, scale if scale is not None else D ** -0.5)
        lay = Layout(layout["blockSize"], layout["numLayouts"], layout["numBlockRows"], layout["maxNnz"],
                     layout["rowPtr"].data_ptr(), layout["colIdx"].data_ptr())
        # torch's default stream has handle 0, which the C API reads as "the context's own stream";
        # pass cudaStreamLegacy (1) instead so the kernels order with torch's work and events.
        stream = torch.cuda.current_stream().cuda_stream or 1
        self._check(self.lib.lv_attention(self.ctx, ctypes.byref(shape), ctypes.byref(lay), dtype, q.data_ptr(), k.data_ptr(), v.data_ptr(),
                                          out.data_ptr(), lse.data_ptr() if lse is not None else None, stream, PATHS[path]))
