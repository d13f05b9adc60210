/// <reference types="@webgpu/types" />
/**
 * Loads Dawn (the `webgpu` npm package) at run time and opens a device. `dawn.node` is a native addon that
 * esbuild cannot bundle, and the package's index.js is ESM with `import.meta.url`, so the CJS bundle cannot
 * require it either: we require the addon file itself (N-API, so it is ABI-stable across Node and Electron).
 * Every failure becomes a WebGpuUnavailableError that a dispatcher can catch to fall back to the CPU backend.
 */
import { createRequire } from "node:module";
import path from "node:path";

/** No usable WebGPU: the addon is missing or fails to load, no adapter, or the device was lost. */
export class WebGpuUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WebGpuUnavailableError";
  }
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

export interface OpenDeviceOptions {
  /** Directory of the `webgpu` package (default: resolved from node_modules, or LONGVIEW_WEBGPU_DIR). */
  packageDir?: string;
  powerPreference?: GPUPowerPreference;
  /** Set false to ignore the adapter's `subgroups` feature (exercises the fallback kernels). */
  allowSubgroups?: boolean;
}

export interface OpenDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** "llvmpipe: Mesa 25.0.7 ..." or the GPU's name. */
  description: string;
  /** True for software adapters (lavapipe): few cores, so splitting keys over workgroups does not pay. */
  software: boolean;
  subgroups: boolean;
  /** Enabled on the device but unused by the kernels so far (f32 throughout). */
  shaderF16: boolean;
}

// The GPU object must stay referenced for the life of the process: when it was garbage-collected while a
// device was alive, the process segfaulted (../shared/notes/treesitter-webgpu.md, Part B).
let gpuSingleton: GPU | undefined;

function nodeRequire(): NodeRequire {
  // `require` exists in the CJS bundle and under tsx; plain ESM gets one rooted at the working directory.
  return typeof require === "function" ? require : createRequire(path.join(process.cwd(), "index.js"));
}

function loadDawn(packageDir?: string): DawnModule {
  const req = nodeRequire();
  let dir = packageDir ?? process.env.LONGVIEW_WEBGPU_DIR;
  try {
    dir ??= path.dirname(req.resolve("webgpu/package.json"));
  } catch (err) {
    throw new WebGpuUnavailableError("the `webgpu` package is not installed (npm install webgpu@0.6.2)", { cause: err });
  }
  const arch = process.platform === "darwin" ? "universal" : process.arch;
  const addon = path.join(dir, "dist", `${process.platform}-${arch}`, "dawn.node");
  try {
    return req(addon) as DawnModule;
  } catch (err) {
    throw new WebGpuUnavailableError(`cannot load Dawn from ${addon}: ${(err as Error).message}`, { cause: err });
  }
}

function gpu(packageDir?: string): GPU {
  gpuSingleton ??= loadDawn(packageDir).create([]);
  return gpuSingleton;
}

/** Opens a device with the features and limits the attention kernels want; throws WebGpuUnavailableError. */
export async function openDevice(options: OpenDeviceOptions = {}): Promise<OpenDevice> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu(options.packageDir).requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" });
  } catch (err) {
    if (err instanceof WebGpuUnavailableError) throw err;
    throw new WebGpuUnavailableError(`requestAdapter failed: ${(err as Error).message}`, { cause: err });
  }
  if (!adapter) {
    throw new WebGpuUnavailableError(
      "no WebGPU adapter: no Vulkan driver that Dawn accepts (on Debian 12 without a GPU run scripts/setup-lavapipe.sh " +
        "for Mesa 25's lavapipe; Debian's own Mesa 22 is refused)",
    );
  }
  const subgroups = options.allowSubgroups !== false && adapter.features.has("subgroups");
  const shaderF16 = adapter.features.has("shader-f16");
  const requiredFeatures: GPUFeatureName[] = [];
  if (subgroups) requiredFeatures.push("subgroups" as GPUFeatureName);
  if (shaderF16) requiredFeatures.push("shader-f16");
  const lim = adapter.limits;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
        maxBufferSize: lim.maxBufferSize,
        maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
        maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 10),
      },
    });
  } catch (err) {
    throw new WebGpuUnavailableError(`requestDevice failed: ${(err as Error).message}`, { cause: err });
  }
  const info = adapter.info;
  const description = [info.description, info.vendor, info.architecture].filter((s) => s).join(" / ") || "unknown adapter";
  const software = info.architecture === "software" || /llvmpipe|lavapipe|swiftshader/i.test(description);
  return { adapter, device, description, software, subgroups, shaderF16 };
}

/** GPUBufferUsage / GPUMapMode bits (the spec's values; Dawn's globals are not installed on globalThis). */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;
export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;
