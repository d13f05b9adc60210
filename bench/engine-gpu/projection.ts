/**
 * Planning a benchmark inside a time budget: what a prefill of N tokens would take, projected from the chunks of
 * a smaller one, and whether to run a context in full, only probe it (time to first token and decode over a cache
 * filled with values, not computed), or skip it.
 *
 * Chunk cost model: ms ≈ a · (rows / chunkRows) + b · kvEnd. The first term is the work per row (dense ops, and
 * attention over a bounded number of kept blocks); the second is whatever grows with the cache length, e.g. a
 * backend that copies the whole cache to the device on every call. Both are fitted by least squares, never
 * negative, so a sum over the chunks of a larger N extrapolates both.
 */

export interface ChunkTime {
  /** Cache length after the chunk (its last position + 1). */
  kvEnd: number;
  rows: number;
  ms: number;
}

export interface PrefillFit {
  /** ms of a full chunk's per-row work. */
  msPerChunk: number;
  /** ms per cached token, per chunk. */
  msPerKvToken: number;
  chunkRows: number;
  points: number;
}

/** Least-squares fit of the chunk cost model; undefined without a chunk to fit. */
export function fitPrefill(chunks: readonly ChunkTime[], chunkRows: number): PrefillFit | undefined {
  const pts = chunks.filter((c) => c.rows > 0 && Number.isFinite(c.ms));
  if (!pts.length) return undefined;
  let xx = 0;
  let xy = 0;
  let yy = 0;
  let xt = 0;
  let yt = 0;
  for (const c of pts) {
    const x = c.rows / chunkRows;
    const y = c.kvEnd;
    xx += x * x;
    xy += x * y;
    yy += y * y;
    xt += x * c.ms;
    yt += y * c.ms;
  }
  const only = (a: number, b: number) => ({ msPerChunk: a, msPerKvToken: b, chunkRows, points: pts.length });
  const perRowOnly = () => only(Math.max(0, xt / xx), 0);
  const det = xx * yy - xy * xy;
  // One chunk, or chunks that all end at the same length: the two terms cannot be told apart.
  if (!(Math.abs(det) > 1e-9 * xx * yy)) return perRowOnly();
  const a = (xt * yy - yt * xy) / det;
  const b = (yt * xx - xt * xy) / det;
  if (a < 0) return only(0, Math.max(0, yt / yy));
  if (b < 0) return perRowOnly();
  return only(a, b);
}

/** Projected ms of prefilling positions [start, tokens) in chunks of fit.chunkRows. */
export function projectPrefillMs(fit: PrefillFit, tokens: number, start = 0): number {
  let ms = 0;
  for (let s = start; s < tokens; s += fit.chunkRows) {
    const e = Math.min(tokens, s + fit.chunkRows);
    ms += fit.msPerChunk * ((e - s) / fit.chunkRows) + fit.msPerKvToken * e;
  }
  return ms;
}

/** A cost measured at `fromTokens`, scaled to `tokens` as if it grew linearly with the context (never shrunk). */
export function scaleUp(ms: number, fromTokens: number, tokens: number): number {
  return ms * Math.max(1, tokens / fromTokens);
}

export type RunMode = "full" | "probe" | "skip";

/**
 * Nothing fits in no time: skip. Full when nothing is known yet (the prefill's own deadline guards it) or the
 * projection fits in 90% of what is left; else a probe when that fits; else skip.
 */
export function chooseMode(opts: { remainingMs: number; fullMs?: number; probeMs: number }): RunMode {
  if (opts.remainingMs <= Math.max(0, opts.probeMs)) return "skip";
  if (opts.fullMs === undefined || opts.fullMs <= 0.9 * opts.remainingMs) return "full";
  return "probe";
}

/** What the last context run measured: the base for estimating a larger one. */
export interface MeasuredContext {
  tokens: number;
  layoutMs?: number;
  ttftMs?: number;
  decodeMsPerToken?: number;
}

export interface ContextEstimate {
  /** Building the layout and allocating the cache (zeroed, at ~1 GB/s). */
  setupMs: number;
  /** Time to first token plus the time-boxed decode (which may overrun its box by up to two steps). */
  askMs: number;
  /** A probe: setup, filling the cache with values (~1 GB/s), and the ask. */
  probeMs: number;
  /** The prefill alone (undefined without a chunk fit). */
  prefillMs?: number;
  /** A full run: setup, prefill and the ask (undefined without a chunk fit). */
  fullMs?: number;
}

/**
 * Costs of a context of `tokens` positions (KV cache of `cacheTokens`), scaled up from the last measured context
 * (linearly: right for a backend that copies the cache per call, pessimistic for one whose cost per row is bounded).
 */
export function estimateContext(opts: {
  tokens: number;
  cacheTokens: number;
  kvBytesPerToken: number;
  prev?: MeasuredContext;
  fit?: PrefillFit;
  decodeSteps: number;
  decodeBoxMs: number;
}): ContextEstimate {
  const { tokens, prev } = opts;
  const scale = (ms: number | undefined) => (prev && ms !== undefined ? scaleUp(ms, prev.tokens, tokens) : 0);
  const memMs = (opts.kvBytesPerToken * opts.cacheTokens) / 1e6; // 1 GB/s
  const step = scale(prev?.decodeMsPerToken);
  const askMs = scale(prev?.ttftMs) + Math.min(opts.decodeBoxMs, step * opts.decodeSteps) + 2 * step;
  const setupMs = scale(prev?.layoutMs) + memMs;
  const prefillMs = opts.fit ? projectPrefillMs(opts.fit, tokens) : undefined;
  return { setupMs, askMs, probeMs: setupMs + memMs + askMs, prefillMs, fullMs: prefillMs === undefined ? undefined : setupMs + prefillMs + askMs };
}
