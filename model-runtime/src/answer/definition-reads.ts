/**
 * Which definitions of a file a model answer read: the read map's mass per source line and per repository-map
 * anchor (RepoSession.readMap, engine/read-lines.ts) gathered onto the index's definitions of that file.
 *
 *  - A body line's mass goes to the INNERMOST definition whose range holds the line: a method's body counts for the
 *    method, not its class (the class keeps its own lines: fields, the lines between methods). Innermost rather than
 *    top-level because the row is a link, and the method is where the reader wants to land.
 *  - A definition's entry in the repository map counts for that definition.
 *  - Lines outside every definition (imports, top-level statements) and the file's header stay with the file only,
 *    so a file's definition shares sum to at most its own share.
 *
 * Cost: one sweep over the lines with mass and the file's definitions (sorted once), per file shown.
 */
import type { FileReading } from "../engine/repo-session";
import type { LineReading } from "../engine/read-lines";
import type { Definition } from "../index/types";
import type { ModelDefinitionRead } from "./model-client";

/** Definitions kept per file (the webview shows fewer; the rest are noise at this size). */
export const DEFINITIONS_PER_FILE = 5;
/** Smallest share of the whole answer's attention a definition needs to be listed. */
export const MIN_DEFINITION_SHARE = 0.01;

export interface DefinitionReadOptions {
  max?: number;
  minShare?: number;
}

/** The definitions that got the most of the answer's attention, most first; `line` 1-based (the name's line). */
export function definitionReads(reading: Pick<FileReading, "lines" | "anchors">, definitions: readonly Definition[], opts: DefinitionReadOptions = {}): ModelDefinitionRead[] {
  if (definitions.length === 0) return [];
  const mass = new Float64Array(definitions.length);
  const byName = new Map<string, number>();
  definitions.forEach((d, i) => byName.set(`${d.name}\u0000${d.nameLine}`, i));
  // An anchor the index no longer knows (the layout lags an edit) counts as its name's line.
  const stray: LineReading[] = [];
  for (const a of reading.anchors) {
    const i = byName.get(`${a.name}\u0000${a.line}`);
    if (i === undefined) stray.push({ line: a.line, mass: a.mass });
    else mass[i] += a.mass;
  }
  const lines = stray.length ? [...reading.lines, ...stray].sort((a, b) => a.line - b.line) : reading.lines;
  spreadLinesOverDefinitions(lines, definitions, mass);

  const minShare = opts.minShare ?? MIN_DEFINITION_SHARE;
  const out: ModelDefinitionRead[] = [];
  definitions.forEach((d, i) => {
    if (mass[i] > 0 && mass[i] >= minShare) out.push({ name: labelOf(d), line: d.nameLine + 1, share: mass[i] });
  });
  return out.sort((a, b) => b.share - a.share || a.line - b.line).slice(0, opts.max ?? DEFINITIONS_PER_FILE);
}

/**
 * Adds each line's mass (lines sorted by line) to the innermost definition holding it. Definitions are taken by start
 * (outer first on a shared start); the stack holds those opened so far, the latest-opened that still holds the
 * line on top, which for properly nested ranges (a syntax tree's) is the innermost.
 */
function spreadLinesOverDefinitions(lines: readonly LineReading[], definitions: readonly Definition[], mass: Float64Array): void {
  const order = definitions.map((_, i) => i).sort((a, b) => definitions[a].startLine - definitions[b].startLine || definitions[b].endLine - definitions[a].endLine);
  const stack: number[] = [];
  let next = 0;
  for (const { line, mass: m } of lines) {
    while (next < order.length && definitions[order[next]].startLine <= line) stack.push(order[next++]);
    // Lines only grow: a definition that ended before this line holds no later one either.
    while (stack.length && definitions[stack[stack.length - 1]].endLine < line) stack.pop();
    if (stack.length) mass[stack[stack.length - 1]] += m;
  }
}

/** "Ledger.post" for a member, "post" otherwise (a generic container's parameters dropped). */
function labelOf(d: Definition): string {
  const container = d.container?.replace(/<[^]*$/, "").trim();
  return container ? `${container}.${d.name}` : d.name;
}
