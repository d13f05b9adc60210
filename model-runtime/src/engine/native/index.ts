/**
 * The engine's native dense ops (./src, built by `npm run build:native-engine`): int8 GEMMs through AVX-512 VNNI,
 * float GEMMs (AVX-512 / AVX2 / portable), RMSNorm, RoPE, SwiGLU and the attention-mass helper, on a thread pool,
 * with Promise-returning entries that run on libuv's pool so the event loop stays free.
 * A missing or unloadable addon throws DenseAddonUnavailableError; the engine then uses the TypeScript ops.
 */
import path from "node:path";
import type { AttentionShape, BlockSparseLayout } from "../../../../kernels/api";
import { bundledAddonPath, loadAddonFrom, moduleDir, uniquePaths } from "../../../../kernels/native-addon";

export const DENSE_ADDON_FILE = "longview_dense.node";

export type DenseIsa = "avx512vnni" | "avx2" | "generic";

export interface NativeMatrix {
  n: number;
  k: number;
  data: Int8Array | Float32Array;
  scale?: Float32Array;
}

export interface NativeLayer {
  attnNorm: Float32Array;
  mlpNorm: Float32Array;
  qkv: NativeMatrix;
  o: NativeMatrix;
  gateUp: NativeMatrix;
  down: NativeMatrix;
}

export interface NativeDims {
  dModel: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ffnDim: number;
  vocabSize: number;
  numLayers: number;
  normEps: number;
  invFreq: Float64Array;
  threads?: number;
}

/** The addon's Model class (argument checks happen in C++: src/addon.cc). The last `sync` argument runs inline. */
export interface NativeModel {
  setLayer(index: number, layer: NativeLayer): void;
  setHead(head: { embedding: NativeMatrix; finalNorm: Float32Array; lmHead?: NativeMatrix }): void;
  preAttention(layer: number, x: Float32Array, M: number, pos0: number, q: Float32Array, k: Float32Array, v: Float32Array, kvCapacity: number, sync?: boolean): Promise<void> | undefined;
  postAttention(layer: number, attn: Float32Array, x: Float32Array, M: number, sync?: boolean): Promise<void> | undefined;
  logits(x: Float32Array, M: number, rows: Int32Array, out: Float32Array, sync?: boolean): Promise<void> | undefined;
  embed(ids: Int32Array, x: Float32Array): void;
  blockMass(shape: Omit<AttentionShape, "kvLength">, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, lse: Float32Array, out: Float64Array): void;
  info(): { isa: DenseIsa; threads: number };
}

export interface NativeLinear {
  run(x: Float32Array, M: number, out: Float32Array, accumulate: boolean, sync?: boolean): Promise<void> | undefined;
}

export interface DenseAddon {
  Model: new (dims: NativeDims) => NativeModel;
  Linear: new (m: NativeMatrix, threads?: number) => NativeLinear;
  /** Select GEMM kernels (before packing any weights) and list those this CPU runs. */
  isa(name?: DenseIsa | "best"): { isa: DenseIsa; supportedIsas: DenseIsa[] };
}

export class DenseAddonUnavailableError extends Error {
  readonly code = "LONGVIEW_DENSE_ADDON_UNAVAILABLE";
  constructor(message: string, readonly tried: string[]) {
    super(message);
    this.name = "DenseAddonUnavailableError";
  }
}

/**
 * Where the addon may live: an explicit path (only that), else $LONGVIEW_DENSE_ADDON, else the copy the VSIX carries
 * (dist/native/<platform>-<arch>/, beside the bundle), else the build folder of a checkout (dev, tests).
 * `here` is the running module's folder (dist/ in a bundle); tests pass another.
 */
export function denseAddonCandidates(explicit?: string, here: string = moduleDir()): string[] {
  if (explicit) return [explicit];
  const list = [
    process.env.LONGVIEW_DENSE_ADDON,
    bundledAddonPath(here, DENSE_ADDON_FILE), // dist/native/<platform>-<arch>/ in a VSIX (or after `npm run build`)
    path.join(here, "build/Release", DENSE_ADDON_FILE), // model-runtime/src/engine/native/index.ts (tsx)
    path.join(here, "native/build/Release", DENSE_ADDON_FILE), // model-runtime/src/engine/*.ts
    path.join(here, DENSE_ADDON_FILE), // a copy next to a bundle in dist/
    path.join(here, "../model-runtime/src/engine/native/build/Release", DENSE_ADDON_FILE), // dist/*.js in a checkout
    path.join(here, "../../model-runtime/src/engine/native/build/Release", DENSE_ADDON_FILE), // dist/bench/*.js
    path.join(process.cwd(), "model-runtime/src/engine/native/build/Release", DENSE_ADDON_FILE),
  ];
  return uniquePaths(list);
}

export function loadDenseAddon(explicitPath?: string): DenseAddon {
  const result = loadAddonFrom<DenseAddon>(denseAddonCandidates(explicitPath));
  if ("addon" in result) return result.addon;
  const { reasons, tried } = result;
  throw new DenseAddonUnavailableError(`Longview dense-op addon is not available (build it with \`npm run build:native-engine\`):\n  ${reasons.join("\n  ")}`, tried);
}

export function isDenseAddonAvailable(explicitPath?: string): boolean {
  try {
    loadDenseAddon(explicitPath);
    return true;
  } catch (e) {
    if (e instanceof DenseAddonUnavailableError) return false;
    throw e;
  }
}
