/**
 * The KV cache: per layer, K and V as [numKvHeads][capacity][headDim] float32 (kernels/api.ts: row stride
 * kvCapacity), so appending a token writes one row per head in place. Growing past the capacity reallocates
 * (×1.5) and copies each head's rows.
 *
 * This host cache is the source of truth (kv-store.ts saves and loads it). A device copy (resident-kv.ts) attaches
 * as a KvCacheMirror: the engine writes rows to both, and whoever changes rows any other way (filling values,
 * truncating) calls `rowsChanged(from)` so the copy forgets rows from there on and re-uploads them when needed.
 */
import type { ModelConfig } from "../model/config";

/** A copy of the cache's rows kept elsewhere (the GPU): told when rows from `row` on may differ from its copy. */
export interface KvCacheMirror {
  invalidateFrom(row: number): void;
}

export class KvCache {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  capacity: number;
  /** Positions [0, length) hold valid keys and values. */
  length = 0;
  k: Float32Array[];
  v: Float32Array[];
  private readonly mirrors = new Set<KvCacheMirror>();

  constructor(config: Pick<ModelConfig, "numLayers" | "numKvHeads" | "headDim">, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`KV cache capacity must be a positive integer, got ${capacity}`);
    this.numLayers = config.numLayers;
    this.numKvHeads = config.numKvHeads;
    this.headDim = config.headDim;
    this.capacity = capacity;
    const n = this.numKvHeads * capacity * this.headDim;
    this.k = Array.from({ length: this.numLayers }, () => new Float32Array(n));
    this.v = Array.from({ length: this.numLayers }, () => new Float32Array(n));
  }

  /** Float32 bytes held (allocated capacity). */
  get bytes(): number {
    return 2 * this.numLayers * this.numKvHeads * this.capacity * this.headDim * 4;
  }

  /** Makes room for `tokens` positions, keeping rows [0, length). */
  ensureCapacity(tokens: number): void {
    if (tokens <= this.capacity) return;
    const cap = Math.max(tokens, Math.ceil(this.capacity * 1.5));
    const D = this.headDim;
    const move = (old: Float32Array): Float32Array => {
      const next = new Float32Array(this.numKvHeads * cap * D);
      for (let h = 0; h < this.numKvHeads; h++) next.set(old.subarray(h * this.capacity * D, (h * this.capacity + this.length) * D), h * cap * D);
      return next;
    };
    this.k = this.k.map(move);
    this.v = this.v.map(move);
    this.capacity = cap;
  }

  /** Forget positions from `length` on (their rows are overwritten by the next prefill). */
  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new RangeError(`cannot truncate a cache of ${this.length} positions to ${length}`);
    this.length = length;
    this.rowsChanged(length);
  }

  /** Rows from `from` on were written (or dropped) other than through the engine: attached copies forget them. */
  rowsChanged(from: number): void {
    for (const m of this.mirrors) m.invalidateFrom(from);
  }

  attachMirror(mirror: KvCacheMirror): void {
    this.mirrors.add(mirror);
  }

  detachMirror(mirror: KvCacheMirror): void {
    this.mirrors.delete(mirror);
  }
}
