/** Messages between ModelWorkerClient (caller's thread) and the model worker (model-worker.ts). Plain data only. */
import type { FileRecord } from "../index/types";
import type { FileRemoval, ModelAnswerEvent, ModelOpenOptions, ModelStatus, PrefillProgress } from "./model-client";

export type ModelRequest =
  | { type: "open"; id: number; opts: ModelOpenOptions }
  | { type: "prefill"; id: number }
  | { type: "ask"; id: number; question: string; maxNewTokens?: number; temperature?: number; explain?: boolean }
  | { type: "update"; id: number; changed: FileRecord[]; removed: FileRemoval[] }
  | { type: "close"; id: number }
  /** Aborts request `id` (its AbortSignal fired on the caller's side). */
  | { type: "cancel"; id: number };

/** An error as it crosses the thread boundary; the client rebuilds the typed error from `name`/`code`. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  reason?: "missing" | "invalid" | "runtime";
  file?: string;
}

export type ModelResponse =
  | { type: "ready" }
  | { type: "status"; status: ModelStatus }
  | { type: "progress"; progress: PrefillProgress }
  | { type: "log"; message: string }
  | { type: "event"; id: number; event: ModelAnswerEvent }
  | { type: "result"; id: number; status?: ModelStatus }
  | { type: "error"; id: number; error: WireError };
