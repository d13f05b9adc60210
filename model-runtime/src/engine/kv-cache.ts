/**
 * The KV cache: per layer, K and V as [numKvHeads][capacity][headDim] float32 (kernels/api.ts: row stride
 * kvCapacity), so appending a token writes one row per head in place. Growing past the capacity reallocates
 * (×1.5) and copies each head's rows.
 */
import type { ModelConfig } from "../model/config";

export class KvCache {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  capacity: number;
  /** Positions [0, length) hold valid keys and values. */
  length = 0;
  k: Float32Array[];
  v: Float32Array[];

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
  }
}
