{
  "variables": {
    "cuda_home%": "/usr/local/cuda"
  },
  "targets": [
    {
      "target_name": "longview_cuda",
      "sources": ["addon/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "include"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "libraries": [
        "<(module_root_dir)/build/nvcc/liblongview_cuda_static.a",
        "-L<(cuda_home)/lib64",
        "-lcudart_static",
        "-ldl",
        "-lrt",
        "-lpthread"
      ]
    }
  ]
}
