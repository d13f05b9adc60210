{
  # The engine's dense ops (GEMMs, norms, RoPE, SwiGLU). x64 builds carry AVX-512 VNNI and AVX2 kernels next to
  # the portable ones and pick at run time. The thread pool is the attention addon's (kernels/cpu/src), reused.
  "targets": [
    {
      "target_name": "longview_dense",
      "sources": [
        "src/addon.cc",
        "src/model.cc",
        "src/block_mass.cc",
        "src/gemm.cc",
        "src/gemm_generic.cc",
        "../../../../kernels/cpu/src/thread_pool.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wno-psabi"],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "GCC_OPTIMIZATION_LEVEL": "3" },
      "conditions": [
        ["target_arch == 'x64'", {
          "defines": ["LVE_X86"],
          "dependencies": ["longview_dense_avx2", "longview_dense_avx512"]
        }],
        ["OS == 'linux'", { "libraries": ["-lpthread"] }]
      ]
    },
    {
      "target_name": "longview_dense_avx2",
      "type": "static_library",
      "sources": ["src/gemm_avx2.cc"],
      "defines": ["LVE_X86"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx2", "-mfma", "-Wno-psabi"],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"] }
    },
    {
      "target_name": "longview_dense_avx512",
      "type": "static_library",
      "sources": ["src/gemm_avx512vnni.cc"],
      "defines": ["LVE_X86"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mfma", "-Wno-maybe-uninitialized"],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mfma"] }
    }
  ]
}
