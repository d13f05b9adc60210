/**
 * Index answers narrowed by "@" mentions. `@file` restricts the answer's definitions to that file (its uses
 * are still found workspace-wide: "who calls this?" stays answerable); `@Symbol` makes the answer about exactly
 * that definition. No `vscode` import.
 */
import { type Citation, type IndexAnswer, answerFromIndex } from "../../model-runtime/src/answer/index-answer";
import type { Definition, FileRecord, ReferenceHit, SymbolHit } from "../../model-runtime/src/index/types";
import { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import type { Scope } from "./mentions";

/**
 * The full index seen through some of its files: lookups of definitions (find, full-text search, names) see
 * only those files; uses and callees come from the whole workspace.
 */
export class ScopedIndex extends WorkspaceIndex {
  constructor(
    private readonly full: WorkspaceIndex,
    records: FileRecord[],
  ) {
    super();
    for (const r of records) this.upsert(r);
  }

  override references(name: string, limit?: number): ReferenceHit[] {
    return this.full.references(name, limit);
  }

  override callees(root: string, path: string, def: Definition, limit?: number): SymbolHit[] {
    return this.full.callees(root, path, def, limit);
  }
}

const MAX_OUTLINE = 40;

/** A file's definitions, each with its citation: what "@file" alone (or an unmatched question) answers. */
function outline(records: FileRecord[], citations: Citation[]): string {
  const parts: string[] = [];
  for (const rec of records) {
    const defs = rec.definitions;
    const lines = defs.slice(0, MAX_OUTLINE).map((d) => {
      citations.push({ root: rec.root, path: rec.path, line: d.nameLine + 1, endLine: d.endLine + 1 });
      const owner = d.container ? ` of \`${d.container.replace(/`/g, "")}\`` : "";
      return `- ${d.kind} \`${d.name.replace(/`/g, "")}\`${owner} — ${rec.path}:${d.nameLine + 1}`;
    });
    const more = defs.length > MAX_OUTLINE ? `\n- … and ${defs.length - MAX_OUTLINE} more` : "";
    parts.push(
      `### \`${rec.path.replace(/`/g, "")}\`\n\n${rec.language}, ${rec.lineCount} lines, ${rec.definitions.length} definition${rec.definitions.length === 1 ? "" : "s"}` +
        (lines.length ? `:\n\n${lines.join("\n")}${more}` : "."),
    );
  }
  return parts.join("\n\n");
}

function quoted(names: string[]): string {
  return names.map((n) => `\`${n}\``).join(" ");
}

/** Answer `question` (mentions already removed) within `scope`. */
export function answerInScope(index: WorkspaceIndex, question: string, scope: Scope): IndexAnswer {
  const notes: string[] = [];
  if (scope.unknown.length) notes.push(`${scope.unknown.map((u) => `\`@${u.replace(/`/g, "")}\``).join(", ")}: no file or definition of that name in the index.`);

  let answer: IndexAnswer;
  if (scope.files.length === 0) {
    answer = scope.symbols.length
      ? answerFromIndex(index, quoted(scope.symbols), { maxSymbols: scope.symbols.length })
      : answerFromIndex(index, question);
  } else {
    const records = scope.files.map((f) => index.get(f.root, f.path)).filter((r): r is FileRecord => r !== undefined);
    const scoped = new ScopedIndex(index, records);
    notes.push(`Scoped to ${scope.files.map((f) => `\`${f.path.replace(/`/g, "")}\``).join(", ")}.`);
    const asked = scope.symbols.length ? quoted(scope.symbols) : question;
    const found = asked.trim() ? answerFromIndex(scoped, asked, { maxSymbols: Math.max(3, scope.symbols.length) }) : undefined;
    if (found && found.symbols.length > 0) {
      answer = found;
    } else {
      const citations: Citation[] = [];
      if (asked.trim()) notes.push(`Nothing in ${records.length === 1 ? "this file" : "these files"} matches the question; here is what ${records.length === 1 ? "it defines" : "they define"}.`);
      const markdown = outline(records, citations);
      answer = { markdown, citations, symbols: [], files: records.map((r) => ({ root: r.root, path: r.path })) };
    }
  }
  if (notes.length) answer = { ...answer, markdown: `${notes.map((n) => `*${n}*`).join("\n\n")}\n\n${answer.markdown}` };
  return answer;
}
