/**
 * Deterministic random weights (seeded), so the engine, its tests and its benchmark run without trained weights.
 * GPT-2-style init: N(0, 0.02) for matrices, the residual outputs (o, down) scaled by 1/√(2·layers), norms 1.
 */
import type { ModelConfig } from "./config";
import { LAYER_MATRICES, type LayerWeights, type Matrix, type ModelWeights, layerMatrixShape, quantizeWeights } from "./weights";

/** splitmix32-seeded xorshift128+ style generator with Box–Muller normals. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  /** Uniform in [0, 1) (sfc32). */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export interface RandomInitOptions {
  seed: number;
  /** Standard deviation of the matrices (default 0.02). */
  std?: number;
  /** Spread norm weights around 1 by this (default 0: exactly 1). Tests use it so norms are not the identity. */
  normJitter?: number;
  /** Return int8 weights (quantized from the float draw). */
  int8?: boolean;
}

export function randomWeights(c: ModelConfig, opts: RandomInitOptions): ModelWeights {
  const rng = new SeededRandom(opts.seed);
  const std = opts.std ?? 0.02;
  const jitter = opts.normJitter ?? 0;
  const matrix = (n: number, k: number, s: number): Matrix => {
    const data = new Float32Array(n * k);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * s;
    return { kind: "f32", n, k, data };
  };
  const norm = (): Float32Array => Float32Array.from({ length: c.dModel }, () => 1 + jitter * (2 * rng.next() - 1));
  const residual = std / Math.sqrt(2 * c.numLayers);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const attnNorm = norm();
    const mlpNorm = norm();
    const m = {} as Record<(typeof LAYER_MATRICES)[number], Matrix>;
    for (const name of LAYER_MATRICES) {
      const [n, k] = layerMatrixShape(c, name);
      m[name] = matrix(n, k, name === "o" || name === "down" ? residual : std);
    }
    layers.push({ attnNorm, mlpNorm, ...m });
  }
  const weights: ModelWeights = {
    embedding: matrix(c.vocabSize, c.dModel, std),
    layers,
    finalNorm: norm(),
    lmHead: c.tieEmbeddings ? undefined : matrix(c.vocabSize, c.dModel, std),
  };
  return opts.int8 ? quantizeWeights(weights) : weights;
}
