/**
 * The model's state in words: what the chat's model strip, the status bar, Show Index Status and index-answer
 * notices say about it. The model controller (model-controller.ts) keeps a ModelSnapshot; everything here is a pure
 * function of it. No `vscode` import: unit-tested in node.
 */
import type { ModelStatus, PrefillProgress } from "../../model-runtime/src/answer/model-client";
import type { ModelView } from "../../webview/src/protocol";

export type ModelPhase =
  /** The model is not used here: Restricted Mode, no workspace folder, or waiting for the first index. */
  | { kind: "off"; reason: string }
  /** No model, a corrupt one, or the engine failed: answers come from the index. */
  | { kind: "unavailable"; reason: string }
  | { kind: "loading" }
  /** Reading (prefilling) the repository: at open, resumed, or catching up after edits while not yet ready. */
  | { kind: "reading"; progress?: PrefillProgress }
  /** The user stopped the reading; it resumes on request. */
  | { kind: "paused" }
  | { kind: "ready" }
  /** Ready, and re-reading the blocks edits changed (questions still go to the model: they wait for it). */
  | { kind: "updating"; progress?: PrefillProgress };

export interface ModelSnapshot {
  phase: ModelPhase;
  /** The worker's last status, once a model was opened. */
  status?: ModelStatus;
}

/** The model answers questions in these phases; otherwise the index does, with a notice. */
export function modelCanAnswer(s: ModelSnapshot): boolean {
  return s.phase.kind === "ready" || s.phase.kind === "updating";
}

/** 12 → "0:12", 185 → "3:05", 3723 → "1:02:03". */
export function formatEta(seconds: number): string {
  const t = Math.max(0, Math.round(seconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** 2410.3 → "2,410"; 12345 → "12.3k". */
export function formatCount(n: number): string {
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  return Math.round(n).toLocaleString("en-US");
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${bytes} B`;
}

export function percentOf(p: PrefillProgress): number {
  return p.total > 0 ? Math.min(100, (100 * p.done) / p.total) : 0;
}

/** "42% · 2,410 tokens/s · about 0:12 left" (the parts known so far). */
export function progressText(p: PrefillProgress | undefined): string {
  if (!p) return "starting…";
  const parts = [`${Math.floor(percentOf(p))}%`];
  if (p.tokensPerSecond > 0) parts.push(`${formatCount(p.tokensPerSecond)} tokens/s`);
  if (p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds)) parts.push(`about ${formatEta(p.etaSeconds)} left`);
  return parts.join(" · ");
}

function tokensOf(s: ModelSnapshot): string {
  const t = s.status?.contextTokens;
  return t ? `${formatCount(t)} tokens` : "";
}

/** The memory cap cut the repository short: said in the strip and the notification (the context limits that are
 * not a Longview setting the user tuned for memory stay in Show Index Status's details). */
function memoryNotice(s: ModelSnapshot): string | undefined {
  return s.status?.contextLimitedBy === "memory" ? s.status.contextNotice : undefined;
}

/** The chat panel's model strip. */
export function modelView(s: ModelSnapshot): ModelView {
  const view = stripView(s);
  const notice = memoryNotice(s);
  // Only where the model reads (or has read) the repository: off/unavailable/loading have nothing laid out.
  return notice && ["reading", "paused", "ready", "updating"].includes(view.kind) ? { ...view, notice } : view;
}

function stripView(s: ModelSnapshot): ModelView {
  const p = s.phase;
  switch (p.kind) {
    case "off":
      return { kind: "off", text: `Index only: ${p.reason}` };
    case "unavailable":
      return { kind: "unavailable", text: `Model unavailable, answering from the index: ${p.reason}` };
    case "loading":
      return { kind: "loading", text: "Loading the model…" };
    case "reading":
      return { kind: "reading", text: `Model reading the repository: ${progressText(p.progress)}`, percent: p.progress ? percentOf(p.progress) : 0, action: "cancel" };
    case "paused": {
      const st = s.status;
      const done = st && st.contextTokens ? ` at ${Math.floor((100 * st.prefilledTokens) / st.contextTokens)}%` : "";
      return { kind: "paused", text: `Model reading stopped${done}: answers come from the index until it finishes.`, action: "resume" };
    }
    case "ready": {
      const tokens = tokensOf(s);
      return { kind: "ready", text: `Model ready${s.status?.modelName ? ` (${s.status.modelName})` : ""}${tokens ? ` · read ${tokens}` : ""}` };
    }
    case "updating":
      return { kind: "updating", text: `Model re-reading edited files: ${progressText(p.progress)}`, percent: p.progress ? percentOf(p.progress) : 0, action: "cancel" };
  }
}

export interface StatusBarView {
  text: string;
  tooltip: string;
  /** "cancel" | "resume" | "status": what a click does. */
  click: "cancel" | "resume" | "status";
}

/** The status-bar item of the model. */
export function statusBarView(s: ModelSnapshot): StatusBarView {
  const p = s.phase;
  switch (p.kind) {
    case "off":
      return { text: "$(circle-slash) Longview model: off", tooltip: `Answers come from the index: ${p.reason}`, click: "status" };
    case "unavailable":
      return { text: "$(warning) Longview model: unavailable", tooltip: `Answers come from the index: ${p.reason}`, click: "status" };
    case "loading":
      return { text: "$(loading~spin) Longview model: loading", tooltip: "Loading the model and laying out the repository", click: "status" };
    case "reading": {
      const pr = p.progress;
      const parts = [pr ? `${Math.floor(percentOf(pr))}%` : "…"];
      if (pr && pr.tokensPerSecond > 0) parts.push(`${formatCount(pr.tokensPerSecond)} tok/s`);
      if (pr?.etaSeconds !== undefined && Number.isFinite(pr.etaSeconds)) parts.push(formatEta(pr.etaSeconds));
      return { text: `$(sync~spin) Longview model: reading ${parts.join(" · ")}`, tooltip: `The model is reading the repository: ${progressText(pr)}. Click to stop.`, click: "cancel" };
    }
    case "paused":
      return { text: "$(debug-pause) Longview model: paused", tooltip: "Reading stopped; answers come from the index. Click to resume.", click: "resume" };
    case "ready":
      return { text: "$(check) Longview model: ready", tooltip: `The model has read the repository${tokensOf(s) ? ` (${tokensOf(s)})` : ""}. Click for details.`, click: "status" };
    case "updating":
      return { text: `$(sync~spin) Longview model: updating ${p.progress ? `${Math.floor(percentOf(p.progress))}%` : ""}`.trimEnd(), tooltip: `Re-reading edited files: ${progressText(p.progress)}. Click to stop.`, click: "cancel" };
  }
}

/** Why an answer came from the index although Longview has a model; undefined when the model answered. */
export function indexFallbackNotice(s: ModelSnapshot): string | undefined {
  const p = s.phase;
  switch (p.kind) {
    case "off":
      return `Answered from the index: ${p.reason}.`;
    case "unavailable":
      return `Answered from the index: the model is unavailable (${p.reason}).`;
    case "loading":
      return "Answered from the index: the model is still loading.";
    case "reading":
      return `Answered from the index: the model is still reading the repository (${p.progress ? `${Math.floor(percentOf(p.progress))}%` : "starting"}). Ask again once it is ready.`;
    case "paused":
      return "Answered from the index: the model's reading of the repository was stopped. Resume it in the panel or the status bar.";
    default:
      return undefined;
  }
}

function state(s: ModelSnapshot): string {
  const p = s.phase;
  switch (p.kind) {
    case "off":
      return `off (${p.reason})`;
    case "unavailable":
      return `unavailable (${p.reason})`;
    case "reading":
      return `reading the repository, ${progressText(p.progress)}`;
    case "updating":
      return `updating after edits, ${progressText(p.progress)}`;
    default:
      return p.kind;
  }
}

/** Show Index Status: the model's lines for the output channel. */
export function modelStatusLines(s: ModelSnapshot): string[] {
  const st = s.status;
  const lines = [`model state: ${state(s)}`];
  if (!st) return lines;
  if (st.modelName || st.modelFolder) lines.push(`model: ${st.modelName ?? "?"}${st.modelFolder ? ` (${st.modelFolder})` : ""}`);
  if (st.backend) lines.push(`model backend in use: attention ${st.backend}, dense ${st.dense ?? "?"}${st.notices.length ? ` — ${st.notices.join("; ")}` : ""}`);
  // A model that never laid the repository out (missing, corrupt) has nothing more to say than its error.
  if (st.contextTokens > 0) pushContextLines(lines, st);
  if (st.contextTokens > 0 && st.contextNotice) lines.push(`model context limit: ${st.contextNotice}`);
  if (st.error) lines.push(`model error: ${st.error}`);
  return lines;
}

function pushContextLines(lines: string[], st: ModelStatus): void {
  lines.push(`model context: ${st.contextTokens} tokens of ${st.files} files (${st.omittedFiles} left out); ${st.prefilledTokens} tokens in the KV cache`);
  lines.push(`KV cache: ${formatBytes(st.kvCacheBytes)}${st.kvCacheSource ? ` (${st.kvCacheSource === "disk" ? "restored from disk" : "computed"})` : ""}`);
  lines.push(
    st.lastPrefillMs === undefined
      ? "last prefill: none yet"
      : `last prefill: ${(st.lastPrefillMs / 1000).toFixed(1)} s for ${st.lastPrefillTokens ?? "?"} tokens${st.lastPrefillTokensPerSecond ? ` (${formatCount(st.lastPrefillTokensPerSecond)} tokens/s)` : ""}`,
  );
}

/** The notification's model sentence ("Model: ready, 7,936 tokens, last prefill 3.2 s."). */
export function modelStatusSentence(s: ModelSnapshot): string {
  const st = s.status;
  const bits = [`Model: ${s.phase.kind === "off" || s.phase.kind === "unavailable" ? state(s) : s.phase.kind}`];
  if (st?.contextTokens && modelCanAnswer(s)) bits.push(`${formatCount(st.contextTokens)} tokens`);
  if (st?.lastPrefillMs !== undefined && modelCanAnswer(s)) bits.push(`last prefill ${(st.lastPrefillMs / 1000).toFixed(1)} s`);
  const notice = modelCanAnswer(s) ? memoryNotice(s) : undefined;
  return `${bits.join(", ")}.${notice ? ` ${notice}` : ""}`;
}
