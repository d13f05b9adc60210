{
  # The CPU attention addon. x64 builds carry AVX-512 and AVX2+FMA kernels next to the portable one and pick
  # at run time, so one binary runs on any x86-64 CPU; other architectures get the portable kernels only.
  "targets": [
    {
      "target_name": "longview_cpu",
      "sources": [
        "src/addon.cc",
        "src/attention.cc",
        "src/cpu_features.cc",
        "src/thread_pool.cc",
        "src/kernel_generic.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O3"],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "GCC_OPTIMIZATION_LEVEL": "3" },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2"] } },
      "conditions": [
        ["target_arch == 'x64'", {
          "defines": ["LV_X86_KERNELS"],
          "dependencies": ["longview_kernels_avx2", "longview_kernels_avx512", "longview_kernels_avx512_bf16"]
        }],
        ["OS == 'linux'", { "libraries": ["-lpthread"] }]
      ]
    },
    {
      "target_name": "longview_kernels_avx2",
      "type": "static_library",
      "sources": ["src/kernel_avx2.cc"],
      "defines": ["LV_X86_KERNELS"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx2", "-mfma"],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2", "/arch:AVX2"] } }
    },
    {
      "target_name": "longview_kernels_avx512",
      "type": "static_library",
      "sources": ["src/kernel_avx512.cc"],
      "defines": ["LV_X86_KERNELS"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx512f", "-mfma", "-Wno-maybe-uninitialized"],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mfma"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2", "/arch:AVX512"] } }
    },
    {
      # Opt-in bf16 prefill kernels (precision "bf16"), run only where CPUID reports AVX512-BF16.
      "target_name": "longview_kernels_avx512_bf16",
      "type": "static_library",
      "sources": ["src/kernel_avx512_bf16.cc"],
      "defines": ["LV_X86_KERNELS"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx512f", "-mavx512bw", "-mavx512bf16", "-mfma", "-Wno-maybe-uninitialized"],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512bf16", "-mfma"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2", "/arch:AVX512"] } }
    }
  ]
}
