/**
 * What "Show Index Status" tells: a one-line notification (its "Longview index: N files, M definitions" start
 * is a contract: tests and users read it) and the full detail for the output channel. No `vscode` import.
 */
import type { IndexStats } from "../../model-runtime/src/index/types";
import type { IndexState } from "./index-controller";

export function statusNotification(s: IndexStats, state: IndexState): string {
  const timing = state.kind === "ready" && state.report ? ` Last build ${(state.report.millis / 1000).toFixed(1)} s.` : "";
  const update = state.kind === "ready" && state.lastUpdateMs !== undefined ? ` Last update ${state.lastUpdateMs} ms.` : "";
  return (
    `Longview index: ${s.files} files, ${s.definitions} definitions, ${s.imports} imports, ${s.references} references, ` +
    `${s.skipped} skipped.${timing}${update}`
  );
}

export interface StatusDetail {
  stats: IndexStats;
  state: IndexState;
  roots: string[];
  trusted: boolean;
  /** Tokens of the repository layout, when one has been computed (the model builds it). */
  layoutTokens?: number;
}

function when(ms: number | undefined): string {
  return ms === undefined ? "never" : new Date(ms).toISOString();
}

/** Detail lines, without the backend (opening it may take a moment; the caller adds that line). */
export function statusDetail(d: StatusDetail): string[] {
  const s = d.stats;
  const languages = Object.entries(s.languages)
    .sort((a, b) => b[1] - a[1])
    .map(([l, n]) => `${l} ${n}`)
    .join(", ");
  const lines = [
    `files: ${s.files} (${(s.bytes / 1024).toFixed(0)} KiB) in ${d.roots.length} folder${d.roots.length === 1 ? "" : "s"}: ${d.roots.join(", ")}`,
    `languages: ${languages || "none"}`,
    `definitions: ${s.definitions}; imports: ${s.imports}; references: ${s.references}; skipped files: ${s.skipped}`,
    // The layout makes definitions and imports its global anchors (ARCHITECTURE.md, section 2).
    `anchors: ${s.definitions + s.imports} (${s.definitions} definitions + ${s.imports} imports)`,
    `layout tokens: ${d.layoutTokens === undefined ? "not computed yet (the token layout is built when the model loads)" : d.layoutTokens}`,
    `workspace trust: ${d.trusted ? "trusted (native kernels allowed)" : "Restricted Mode (index answers; no native code is loaded)"}`,
  ];
  const st = d.state;
  if (st.kind === "ready") {
    const r = st.report;
    lines.push(`last full index: ${when(st.builtAt)}${r ? ` (${r.files} files, ${r.parsed} parsed, ${r.reused} reused, in ${(r.millis / 1000).toFixed(1)} s)` : ""}`);
    lines.push(`last update: ${st.updatedAt === undefined ? "none since" : `${when(st.updatedAt)} (${st.lastUpdateMs} ms)`}`);
  } else {
    lines.push(`index state: ${st.kind}${st.kind === "failed" ? ` (${st.message})` : ""}`);
  }
  return lines;
}
