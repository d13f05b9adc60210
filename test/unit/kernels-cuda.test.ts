/**
 * The CUDA backend from Node. Where a CUDA device is present this runs the shared kernel suite
 * (kernels/testing) against the float64 reference in bf16; elsewhere it checks that the addon loads and
 * reports "no CUDA device" cleanly, and says loudly what it skipped. The GPU machine used for development
 * has no Node.js, so kernels/cuda/bench/check_gpu.py is the device-side correctness check there.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { CudaAttentionBackend, CudaUnavailableError, addonCandidates, cudaDeviceInfo } from "../../kernels/cuda/index";
import { runSharedSuite } from "../../kernels/testing";

const built = addonCandidates().some((f) => fs.existsSync(f));
const info = cudaDeviceInfo();
const skipBuild = built ? false : "CUDA addon not built (npm run build:cuda needs nvcc)";
const skipDevice = info.available ? false : `no CUDA device here: ${info.reason}`;
if (skipBuild || skipDevice) console.warn(`[kernels-cuda] SKIPPING the GPU suite — ${skipBuild || skipDevice}`);

test("the CUDA addon loads and reports the device state", { skip: skipBuild }, () => {
  assert.equal(typeof info.available, "boolean");
  assert.ok(info.runtimeVersion >= 12000, `runtime version ${info.runtimeVersion}`);
  if (info.available) {
    assert.ok(info.name && info.name.length > 0);
    assert.match(info.computeCapability ?? "", /^\d+\.\d+$/);
  } else {
    assert.match(info.reason ?? "", /no CUDA device/);
    assert.equal(info.deviceCount, 0);
  }
});

test("without a GPU the backend refuses with CudaUnavailableError", { skip: skipBuild || (info.available && "a CUDA device is present") }, () => {
  assert.throws(() => new CudaAttentionBackend(), (err: unknown) => err instanceof CudaUnavailableError && /no CUDA device/.test((err as Error).message));
});

test("shared kernel suite on the CUDA device (bf16)", { skip: skipBuild || skipDevice, timeout: 600_000 }, async () => {
  const backend = new CudaAttentionBackend({ dtype: "bf16" });
  try {
    const report = await runSharedSuite(backend, { precision: "bf16" });
    assert.equal(report.failures.length, 0);
    assert.ok(report.results.length > 0);
  } finally {
    backend.dispose();
  }
});

test("shared kernel suite on the CUDA device, mma.sync path (fp16)", { skip: skipBuild || skipDevice, timeout: 600_000 }, async () => {
  const backend = new CudaAttentionBackend({ dtype: "fp16", path: "mma" });
  try {
    const report = await runSharedSuite(backend, { precision: "fp16", quick: true });
    assert.equal(report.failures.length, 0);
  } finally {
    backend.dispose();
  }
});
