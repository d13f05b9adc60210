/**
 * Take a definition's doc comment out of a file without moving anything else: its lines become blank lines, so
 * every other line keeps its number and every other character its (line, column). Tasks (b) and (c) ask about a
 * doc comment the model cannot read.
 *
 * The comment's lines are found in the text (the index records a definition's doc, not where it sits), then
 * checked twice: the found lines, cleaned the way the parser cleans doc comments, must equal the indexed doc, and
 * the file re-parsed after blanking must have the same definitions with the removed docs now empty
 * (`checkRemoval`). A doc that fails either check is not used.
 */
import type { Definition } from "../index/types";
import { cleanDocComment } from "../parse/extract";

/** Lines [startLine, endLine] (0-based, inclusive) hold the doc comment. */
export interface DocRange {
  startLine: number;
  endLine: number;
  /** Text for startLine instead of a blank line (`pass` when a docstring was a Python body's only statement). */
  placeholder?: string;
}

/** Line contents without their "\n" (a "\r" before it stays), as the layout counts lines. */
export function splitLines(text: string): string[] {
  return text.split("\n");
}

/** Decorators and attributes sit between a doc comment and its definition without detaching it. */
const TRANSPARENT_LINE = /^\s*(@[\w$.]+|#!?\[)/;
const PY_STRING_START = /^(\s*)([rRuUbBfF]{0,2})("""|'''|"|')/;

/** The same doc up to line breaks (a parser's comment nodes may carry their own newline: Rust's `///` lines do). */
function sameDoc(a: string, b: string): boolean {
  return a.replace(/\s+/g, " ") === b.replace(/\s+/g, " ");
}

function isLineComment(line: string, language: string): boolean {
  const t = line.trimStart();
  return t.startsWith("//") || (language === "python" && t.startsWith("#"));
}

/** Comment lines directly above the definition (or above its decorators), like the parser's leadingComment. */
function leadingCommentRange(lines: string[], def: Definition, language: string): DocRange | undefined {
  let i = def.startLine - 1;
  while (i >= 0 && TRANSPARENT_LINE.test(lines[i]) && !isLineComment(lines[i], language)) i--;
  const end = i;
  while (i >= 0) {
    const line = lines[i];
    if (isLineComment(line, language)) {
      i--;
      continue;
    }
    if (language !== "python" && line.trimEnd().endsWith("*/")) {
      let j = i;
      while (j >= 0 && !lines[j].includes("/*")) j--;
      if (j < 0 || lines[j].slice(0, lines[j].indexOf("/*")).trim() !== "") return undefined;
      i = j - 1;
      continue;
    }
    break;
  }
  const start = i + 1;
  if (start > end) return undefined;
  const raw = lines.slice(start, end + 1).join("\n");
  return sameDoc(cleanDocComment(raw), def.doc) ? { startLine: start, endLine: end } : undefined;
}

/** Round brackets opened minus closed, outside strings and comments (good enough to find where a header ends). */
function bracketDelta(line: string): number {
  let d = 0;
  let quote = "";
  for (let k = 0; k < line.length; k++) {
    const c = line[k];
    if (quote) {
      if (c === "\\") k++;
      else if (c === quote) quote = "";
    } else if (c === "#") break;
    else if (c === '"' || c === "'") quote = c;
    else if (c === "(" || c === "[" || c === "{") d++;
    else if (c === ")" || c === "]" || c === "}") d--;
  }
  return d;
}

/** A Python docstring: the first statement of the body, a string on lines of its own. */
function pythonDocstringRange(lines: string[], def: Definition): DocRange | undefined {
  let depth = 0;
  let header = -1;
  for (let i = def.startLine; i <= Math.min(def.endLine, def.startLine + 60); i++) {
    depth += bracketDelta(lines[i]);
    if (depth > 0) continue;
    // The header ends with ":" outside brackets; anything else (a one-line body) has no docstring line to blank.
    if (!lines[i].replace(/#.*$/, "").trimEnd().endsWith(":")) return undefined;
    header = i;
    break;
  }
  if (header < 0) return undefined;
  let s = header + 1;
  while (s <= def.endLine && lines[s].trim() === "") s++;
  if (s > def.endLine) return undefined;
  const m = PY_STRING_START.exec(lines[s]);
  if (!m) return undefined;
  const quote = m[3];
  const openEnd = m[0].length;
  let e = -1;
  let closeAt = -1;
  for (let i = s; i <= def.endLine; i++) {
    const from = i === s ? openEnd : 0;
    const at = lines[i].indexOf(quote, from);
    if (at >= 0) {
      e = i;
      closeAt = at;
      break;
    }
    if (quote.length === 1) return undefined;
  }
  if (e < 0) return undefined;
  const rest = lines[e].slice(closeAt + quote.length).replace(/\r$/, "");
  if (rest.trim() !== "" && !rest.trim().startsWith("#")) return undefined;
  const stringText =
    s === e
      ? lines[s].slice(m[1].length, closeAt + quote.length)
      : [lines[s].slice(m[1].length), ...lines.slice(s + 1, e), lines[e].slice(0, closeAt + quote.length)].join("\n");
  const inner = stringText.replace(/^[rRbBuUfF]*("""|'''|"|')/, "").replace(/("""|'''|"|')$/, "");
  if (!sameDoc(cleanDocComment(inner), def.doc)) return undefined;
  // A body that was only the docstring needs a statement to stay valid Python.
  let next = e + 1;
  while (next < lines.length && lines[next].trim() === "") next++;
  const bodyEndsHere = next > def.endLine || next >= lines.length;
  return { startLine: s, endLine: e, placeholder: bodyEndsHere ? `${m[1]}pass` : undefined };
}

/** Where `def`'s doc comment is in the file, or undefined when it cannot be located exactly. */
export function findDocRange(lines: string[], def: Definition, language: string): DocRange | undefined {
  if (!def.doc) return undefined;
  if (language === "python") return pythonDocstringRange(lines, def) ?? leadingCommentRange(lines, def, language);
  return leadingCommentRange(lines, def, language);
}

/** The text with each range's lines blanked (a line's "\r" kept), every other line untouched. */
export function blankRanges(text: string, ranges: readonly DocRange[]): string {
  const lines = splitLines(text);
  for (const r of ranges) {
    for (let i = r.startLine; i <= r.endLine; i++) {
      const cr = lines[i].endsWith("\r") ? "\r" : "";
      lines[i] = (i === r.startLine && r.placeholder ? r.placeholder : "") + cr;
    }
  }
  return lines.join("\n");
}

/** Ranges must not overlap (two definitions cannot share a comment we remove). */
export function overlaps(a: DocRange, b: DocRange): boolean {
  return a.startLine <= b.endLine && b.startLine <= a.endLine;
}

type DefKey = Pick<Definition, "name" | "kind" | "nameLine" | "nameColumn">;

function key(d: DefKey): string {
  return `${d.kind}:${d.name}@${d.nameLine}:${d.nameColumn}`;
}

/**
 * After blanking: the re-parsed file must define the same things at the same places, and the removed docs must be
 * gone. Returns a reason when it does not hold.
 */
export function checkRemoval(before: readonly Definition[], after: readonly Definition[], removed: readonly DefKey[]): string | undefined {
  const a = before.map(key).sort();
  const b = after.map(key).sort();
  if (a.length !== b.length || a.some((k, i) => k !== b[i])) return "definitions changed after blanking the doc comment";
  const byKey = new Map(after.map((d) => [key(d), d]));
  for (const r of removed) {
    const d = byKey.get(key(r));
    if (!d) return `definition ${r.name} not found after blanking`;
    if (d.doc !== "") return `doc of ${r.name} still present after blanking`;
  }
  return undefined;
}
