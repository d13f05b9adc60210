/**
 * Next-token choice from logits: greedy (temperature 0), or temperature with optional top-k and top-p (nucleus)
 * truncation, drawn from a seeded generator so an answer can be replayed.
 */
import { SeededRandom } from "../model/random-init";

export interface SamplingOptions {
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Keep the smallest set of tokens whose probability reaches this (0 < topP ≤ 1; default 1 = off). */
  topP?: number;
  /** Keep only the k most likely tokens (default 0 = off). */
  topK?: number;
  seed?: number;
}

export interface SampledToken {
  id: number;
  /** Natural-log probability of the chosen token under the temperature-scaled distribution (before truncation). */
  logprob: number;
}

export class Sampler {
  private readonly rng: SeededRandom;
  private readonly temperature: number;
  private readonly topP: number;
  private readonly topK: number;

  constructor(opts: SamplingOptions = {}) {
    this.temperature = opts.temperature ?? 0;
    this.topP = opts.topP ?? 1;
    this.topK = opts.topK ?? 0;
    if (!(this.temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${opts.temperature}`);
    if (!(this.topP > 0 && this.topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${opts.topP}`);
    if (!Number.isInteger(this.topK) || this.topK < 0) throw new RangeError(`topK must be a non-negative integer, got ${opts.topK}`);
    this.rng = new SeededRandom(opts.seed ?? 0x5eed);
  }

  sample(logits: Float32Array): SampledToken {
    const V = logits.length;
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    const maxLogit = logits[best];
    if (!Number.isFinite(maxLogit)) throw new Error("the model produced non-finite logits");
    const t = this.temperature || 1;
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp((logits[i] - maxLogit) / t);
    const logZ = Math.log(z);
    const logprob = (id: number) => (logits[id] - maxLogit) / t - logZ;
    if (this.temperature === 0) return { id: best, logprob: logprob(best) };

    let order: number[];
    if (this.topK > 0 || this.topP < 1) {
      order = Array.from({ length: V }, (_, i) => i);
      order.sort((a, b) => logits[b] - logits[a] || a - b);
      if (this.topK > 0) order.length = Math.min(order.length, this.topK);
      if (this.topP < 1) {
        let cum = 0;
        let keep = 0;
        while (keep < order.length && cum < this.topP) cum += Math.exp(logprob(order[keep++]));
        order.length = Math.max(1, keep);
      }
    } else {
      order = Array.from({ length: V }, (_, i) => i);
    }
    let total = 0;
    for (const id of order) total += Math.exp(logprob(id));
    let u = this.rng.next() * total;
    for (const id of order) {
      u -= Math.exp(logprob(id));
      if (u <= 0) return { id, logprob: logprob(id) };
    }
    const last = order[order.length - 1];
    return { id: last, logprob: logprob(last) };
  }
}
