/**
 * How many positions of the repository the model may hold: the smallest of the context setting, the model's trained
 * positions and what the memory cap allows its KV cache (the big part of the model's memory: the weights of the
 * default model are ~26 MB, its KV cache 6 KB per token). When the repository does not fit, the status says which
 * limit cut it and, in words, what to change.
 */
import type { ModelConfig } from "../model/config";
import { KvCache } from "../engine/kv-cache";

export const DEFAULT_MAX_MODEL_MEMORY_MB = 2048;
export const DEFAULT_MAX_KV_CACHE_DISK_MB = 4096;
const MB = 1024 * 1024;

/** What cut the context short: the context setting, the model's positions, or the memory cap. */
export type ContextLimit = "setting" | "model" | "memory";

/** KV cache bytes per position: K and V, per layer and KV head, headDim elements of the cache's element type. */
export function kvBytesPerToken(config: Pick<ModelConfig, "numLayers" | "numKvHeads" | "headDim">): number {
  // One position's worth of a real cache, so the arithmetic follows KvCache if its element type changes.
  return new KvCache({ ...config, numLayers: 1, numKvHeads: 1 }, 1).bytes * config.numLayers * config.numKvHeads;
}

export interface ContextBudget {
  /** Positions the session may hold: repository + room for a question and its answer. */
  maxTokens: number;
  /** The binding limit (ties: the setting, then the model, then memory). */
  limitedBy: ContextLimit;
  bytesPerToken: number;
  /** The positions the memory cap allows. */
  memoryTokens: number;
  maxModelMemoryMB: number;
}

export function contextBudget(opts: { maxContextTokens?: number; maxPositions: number; maxModelMemoryMB?: number; bytesPerToken: number }): ContextBudget {
  const maxModelMemoryMB = opts.maxModelMemoryMB ?? DEFAULT_MAX_MODEL_MEMORY_MB;
  const memoryTokens = Math.floor((maxModelMemoryMB * MB) / opts.bytesPerToken);
  const setting = opts.maxContextTokens ?? 1 << 20;
  const maxTokens = Math.min(setting, opts.maxPositions, memoryTokens);
  const limitedBy: ContextLimit = maxTokens === setting ? "setting" : maxTokens === opts.maxPositions ? "model" : "memory";
  return { maxTokens, limitedBy, bytesPerToken: opts.bytesPerToken, memoryTokens, maxModelMemoryMB };
}

/** Names of the knobs in the notice (the extension's settings by default; the CLI passes its flags). */
export interface LimitNames {
  memory: string;
  context: string;
}

export const SETTING_NAMES: LimitNames = { memory: "longview.maxModelMemoryMB", context: "longview.maxContextTokens" };

/** 180000 → "180k", 950 → "950". */
function tokens(n: number): string {
  return n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

/**
 * The notice when the repository did not fit (`repositoryTokens` > `contextTokens`), undefined when it did.
 * "The model reads 180k of 420k tokens: longview.maxModelMemoryMB (2048 MB) limits its KV cache."
 */
export function contextLimitNotice(budget: ContextBudget, contextTokens: number, repositoryTokens: number, names: LimitNames = SETTING_NAMES): string | undefined {
  if (repositoryTokens <= contextTokens) return undefined;
  const reads = `The model reads ${tokens(contextTokens)} of ${tokens(repositoryTokens)} tokens`;
  switch (budget.limitedBy) {
    case "memory":
      return `${reads}: ${names.memory} (${budget.maxModelMemoryMB} MB) limits its KV cache.`;
    case "model":
      return `${reads}: the model was trained for ${tokens(budget.maxTokens)} positions.`;
    case "setting":
      return `${reads}: ${names.context} (${budget.maxTokens}) limits its context.`;
  }
}
