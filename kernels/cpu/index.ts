/**
 * The CPU attention backend: a native Node-API addon (kernels/cpu/src, built by `npm run build:native`)
 * running flash-style block-sparse attention with a persistent thread pool and AVX-512 / AVX2 / portable
 * kernels picked at run time.
 *
 * Loading never crashes the caller: when the addon is missing or cannot be loaded, `loadCpuAddon` and
 * `createCpuBackend` throw a CpuBackendUnavailableError that backend dispatch can catch and report.
 */
import path from "node:path";
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout, SparseAttentionBackend } from "../api";
import { bundledAddonPath, loadAddonFrom, moduleDir, uniquePaths } from "../native-addon";

export type CpuIsa = "avx512" | "avx2" | "generic";

/**
 * Arithmetic of the prefill (row-parallel) path. "fp32", the default: float32 products and sums. "bf16", only on
 * request and only with the avx512 kernels on a CPU with AVX512-BF16: Q, K, V and the softmax weights are
 * rounded to bfloat16 and multiplied with float32 accumulation (vdpbf16ps, twice the FMA rate); the softmax, its
 * running max and sum, and the few-rows (decode) path stay float32. The shared suite checks it against the
 * "bf16" bounds of kernels/testing/precision.ts.
 */
export type CpuPrecision = "fp32" | "bf16";

export interface CpuAddonInfo {
  /** Kernels in use. */
  isa: CpuIsa;
  /** Their arithmetic. */
  precision: CpuPrecision;
  /** Threads per call, the calling thread included. */
  threads: number;
  /** Kernels this CPU can run, best first (float32). */
  supportedIsas: CpuIsa[];
  /** Precisions the kernels in use offer on this CPU. */
  supportedPrecisions: CpuPrecision[];
}

/** The raw addon (argument checks happen in C++; see kernels/cpu/src/addon.cc). */
interface CpuAddon {
  attention(shape: AttentionShape, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse?: Float32Array): void;
  attentionAsync(shape: AttentionShape, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse?: Float32Array): Promise<void>;
  info(): CpuAddonInfo;
  configure(options: { threads?: number; isa?: CpuIsa | "best"; precision?: CpuPrecision }): CpuAddonInfo;
}

/** Thrown when the native addon is not built or cannot be loaded on this machine. */
export class CpuBackendUnavailableError extends Error {
  readonly code = "LONGVIEW_CPU_ADDON_UNAVAILABLE";
  constructor(message: string, readonly tried: string[]) {
    super(message);
    this.name = "CpuBackendUnavailableError";
  }
}

export const ADDON_FILE = "longview_cpu.node";

/**
 * Where the addon may live: an explicit path (only that), else $LONGVIEW_CPU_ADDON, else the copy the VSIX carries
 * (dist/native/<platform>-<arch>/, beside the bundle), else the build folder of a checkout (dev, tests).
 * `here` is the running module's folder (dist/ in a bundle); tests pass another.
 */
export function addonCandidates(explicit?: string, here: string = moduleDir()): string[] {
  if (explicit) return [explicit];
  const list = [
    process.env.LONGVIEW_CPU_ADDON,
    bundledAddonPath(here, ADDON_FILE),
    path.join(here, "build/Release", ADDON_FILE),
    path.join(here, ADDON_FILE),
    path.join(here, "../kernels/cpu/build/Release", ADDON_FILE),
    path.join(here, "../../kernels/cpu/build/Release", ADDON_FILE),
    path.join(process.cwd(), "kernels/cpu/build/Release", ADDON_FILE),
  ];
  return uniquePaths(list);
}

/** Loads the addon (once per path). Throws CpuBackendUnavailableError with every path tried and why. */
export function loadCpuAddon(explicitPath?: string): CpuAddon {
  const result = loadAddonFrom<CpuAddon>(addonCandidates(explicitPath));
  if ("addon" in result) return result.addon;
  throw new CpuBackendUnavailableError(
    `Longview CPU attention addon is not available (build it with \`npm run build:native\`):\n  ${result.reasons.join("\n  ")}`,
    result.tried,
  );
}

/** True when the addon loads on this machine. */
export function isCpuBackendAvailable(explicitPath?: string): boolean {
  try {
    loadCpuAddon(explicitPath);
    return true;
  } catch (err) {
    if (err instanceof CpuBackendUnavailableError) return false;
    throw err;
  }
}

export interface CpuBackendOptions {
  /** Threads per call including the caller (default: $LONGVIEW_CPU_THREADS or all hardware threads). */
  threads?: number;
  /** Force a kernel build (tests use this to cover every path the CPU supports). */
  isa?: CpuIsa | "best";
  /** "fp32" (default) or "bf16" (opt-in; see CpuPrecision). Unsupported combinations throw a RangeError. */
  precision?: CpuPrecision;
  /** Explicit path of longview_cpu.node. */
  addonPath?: string;
}

/**
 * The CPU backend. `attention` runs on the calling thread (fine in workers and the CLI); `attentionAsync`
 * runs on libuv's pool and resolves when done, so the extension host's event loop never waits on a kernel.
 * Calls are serialised per addon instance. Arrays must not be transferred or resized while a call runs.
 */
export class CpuSparseAttentionBackend implements SparseAttentionBackend {
  private readonly addon: CpuAddon;

  constructor(options: CpuBackendOptions = {}) {
    this.addon = loadCpuAddon(options.addonPath);
    // The precision is always set, so that a backend created without asking for bf16 computes in float32.
    this.addon.configure({ threads: options.threads, isa: options.isa, precision: options.precision ?? "fp32" });
  }

  /** "cpu-<isa>", "-bf16" added for bf16. Threads and kernels are per process (one addon instance), so the last configure wins. */
  get name(): string {
    const info = this.addon.info();
    return `cpu-${info.isa}${info.precision === "bf16" ? "-bf16" : ""}`;
  }

  /** Kernels and threads in use. */
  info(): CpuAddonInfo {
    return this.addon.info();
  }

  attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): void {
    this.addon.attention(shape, layout, inputs.q, inputs.k, inputs.v, outputs.out, outputs.lse);
  }

  /** Bad arguments reject the promise (the checks themselves run before it is returned). */
  attentionAsync(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> {
    try {
      return this.addon.attentionAsync(shape, layout, inputs.q, inputs.k, inputs.v, outputs.out, outputs.lse);
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/** Creates the CPU backend; throws CpuBackendUnavailableError when the addon is missing. */
export function createCpuBackend(options: CpuBackendOptions = {}): CpuSparseAttentionBackend {
  return new CpuSparseAttentionBackend(options);
}
