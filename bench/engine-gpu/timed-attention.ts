/**
 * Wraps the attention backend that dispatch (openAttentionBackend) chose and adds up the wall time of its calls, so
 * a benchmark can split a prefill or a decode step into attention and the rest (dense ops, embedding, logits,
 * sampling) at the cost of two clock reads per call. The engine runs one call at a time and awaits it, so the
 * wall time of the calls is the time attention held the run up.
 *
 * It keeps the engine's choice between the backend's entries: `attentionAsync` exists here only when the wrapped
 * backend has one (the native CPU addon), exactly as the engine would see it unwrapped; likewise `resident()` (K/V
 * kept on the GPU: CUDA) answers what the wrapped backend answers, with its attention calls timed and counted and
 * its uploads (ResidentKvCache.write, the engine's new rows) timed as attention too, since the copy path's
 * attention time includes its copies.
 */
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout, ResidentKvCache, ResidentKvSupport, SparseAttentionBackend } from "../../kernels/api";

type AsyncEntry = (shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs) => Promise<void>;

export interface AttentionTally {
  ms: number;
  calls: number;
}

export class TimedAttention implements SparseAttentionBackend {
  private total: AttentionTally = { ms: 0, calls: 0 };
  readonly attentionAsync?: AsyncEntry;

  constructor(readonly inner: SparseAttentionBackend) {
    const entry = (inner as { attentionAsync?: AsyncEntry }).attentionAsync;
    if (typeof entry === "function") this.attentionAsync = (s, l, i, o) => this.time(() => entry.call(inner, s, l, i, o));
  }

  /** The wrapped backend's name (a GPU backend that failed reads "cpu-… (after cuda:… failed)"). */
  get name(): string {
    return this.inner.name;
  }

  attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> {
    return this.time(() => this.inner.attention(shape, layout, inputs, outputs));
  }

  private residentView?: { inner: ResidentKvSupport; timed: ResidentKvSupport };
  private readonly unwrap = new WeakMap<ResidentKvCache, ResidentKvCache>();

  resident(): ResidentKvSupport | undefined {
    const inner = this.inner.resident?.();
    if (!inner) return undefined;
    if (this.residentView?.inner !== inner) {
      const timed: ResidentKvSupport = {
        createCache: (numKvHeads, capacity, headDim) => {
          const cache = inner.createCache(numKvHeads, capacity, headDim);
          const wrapped: ResidentKvCache = {
            numKvHeads: cache.numKvHeads,
            capacity: cache.capacity,
            headDim: cache.headDim,
            write: (k, v, hostCapacity, start, count) => this.timeSync(() => cache.write(k, v, hostCapacity, start, count)),
            dispose: () => cache.dispose(),
          };
          this.unwrap.set(wrapped, cache);
          return wrapped;
        },
        attention: (shape, layout, q, cache, outputs) => this.time(() => inner.attention(shape, layout, q, this.unwrap.get(cache) ?? cache, outputs)),
      };
      this.residentView = { inner, timed };
    }
    return this.residentView.timed;
  }

  /** The time and calls since the last take(), and starts a new tally. */
  take(): AttentionTally {
    const t = this.total;
    this.total = { ms: 0, calls: 0 };
    return t;
  }

  dispose(): void {
    this.inner.dispose?.();
  }

  /** A synchronous upload: its time counts, not as a call. */
  private timeSync(call: () => void): void {
    const t0 = performance.now();
    try {
      call();
    } finally {
      this.total.ms += performance.now() - t0;
    }
  }

  private async time(call: () => Promise<void> | void): Promise<void> {
    const t0 = performance.now();
    try {
      await call();
    } finally {
      this.total.ms += performance.now() - t0;
      this.total.calls++;
    }
  }
}
