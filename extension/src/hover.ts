/**
 * Hover explanations. Two providers, so VS Code shows the first while the second is still computing:
 * - the index's facts — where the symbol under the mouse is defined, its signature and doc, and who uses it —
 *   immediately (a Map lookup), with links that open each location;
 * - the model's one-line explanation of that definition, when the model is ready and the definition has no doc comment
 *   (explanations.ts: cached per symbol and file version, a small budget, cancelled when the hover goes away).
 */
import * as vscode from "vscode";
import type { ReferenceHit, SymbolHit, VariableHit } from "../../model-runtime/src/index/types";
import { fileKey } from "../../model-runtime/src/index/workspace-index";
import type { IndexController } from "./index-controller";
import type { ExplanationCache } from "./explanations";
import { inert } from "./inert-text";
import { modelCanAnswer, type ModelSnapshot } from "./model-view";
import { OPEN_LOCATION_COMMAND, escapeMarkdown, locationLink } from "./locations";

const MAX_DEFINITIONS = 3;

/** The identifier under the mouse, with the workspace folder and relative path of its file (when in one). */
interface WordAt {
  index: NonNullable<IndexController["index"]>;
  range: vscode.Range;
  word: string;
  folder?: vscode.WorkspaceFolder;
  here?: string;
}

function wordAt(controller: IndexController, document: vscode.TextDocument, position: vscode.Position): WordAt | undefined {
  const index = controller.index;
  // A Ruby method's name may end in ! or ? (`filter!`, `empty?`); elsewhere those are operators (`x!`, `println!`).
  const range = index && document.getWordRangeAtPosition(position, document.languageId === "ruby" ? /[A-Za-z_$][\w$]*[!?]?/ : /[A-Za-z_$][\w$]*/);
  if (!index || !range) return undefined;
  const folder = vscode.workspace.getWorkspaceFolder(document.uri);
  return { index, range, word: document.getText(range), folder, here: folder ? vscode.workspace.asRelativePath(document.uri, false) : undefined };
}

/**
 * The symbol under the mouse and its definitions in the index, the one the file means there first (its own, an
 * imported one, its folder's: WorkspaceIndex.meantAt), else those in the same file; none for a parameter or a local.
 */
function symbolAt(at: WordAt, line: number): { range: vscode.Range; word: string; hits: SymbolHit[]; meant?: SymbolHit } | undefined {
  const { index, range, word, folder, here } = at;
  const hits = index.find(word, { limit: 20 });
  if (hits.length === 0) return undefined;
  if (folder && here && index.localAt(folder.name, here, line, word)) return undefined;
  const meant = folder && here ? index.meantAt(folder.name, here, line, word) : undefined;
  const rank = (h: SymbolHit) => (meant && h.root === meant.root && h.path === meant.path && h.definition.nameLine === meant.definition.nameLine ? 2 : Number(h.path === here && h.root === folder?.name));
  hits.sort((a, b) => rank(b) - rank(a));
  return { range, word, hits, meant };
}

/**
 * The module variable or constant under the mouse (no definition has its name: WorkspaceIndex.variablesNamed), bound
 * in this file or in one it imports — a field `name` of some other class is not what `name` means here.
 */
function variableAt(at: WordAt, line: number): VariableHit[] {
  const { index, word, folder, here } = at;
  if (!folder || !here || index.localAt(folder.name, here, line, word)) return [];
  const seen = index.importedFiles(folder.name, here);
  return index.variablesNamed(word, 50).filter((h) => (h.root === folder.name && h.path === here) || seen.has(fileKey(h.root, h.path)));
}

export class LongviewHoverProvider implements vscode.HoverProvider {
  constructor(private readonly controller: IndexController) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const word = wordAt(this.controller, document, position);
    const at = word && symbolAt(word, position.line);
    const bound = word && !at ? variableAt(word, position.line) : [];
    if (!word || (!at && bound.length === 0)) return undefined;
    const index = word.index;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: [OPEN_LOCATION_COMMAND] };
    md.supportHtml = false;
    md.appendMarkdown(`**Longview** · index\n\n`);
    if (!at) {
      for (const h of bound.slice(0, MAX_DEFINITIONS)) this.appendVariable(md, h);
      this.appendUses(md, index.references(word.word, 200));
      return new vscode.Hover(md, word.range);
    }
    const { range, hits, meant } = at;
    for (const hit of hits.slice(0, MAX_DEFINITIONS)) this.appendDefinition(md, hit);
    if (hits.length > MAX_DEFINITIONS) md.appendMarkdown(`\n\n…and ${hits.length - MAX_DEFINITIONS} more definitions\n`);
    // With several definitions of the name, the uses of the one meant here; else every line naming it.
    this.appendUses(md, meant && hits.length > 1 ? index.usesOf(meant, 200) : index.references(at.word, 200));
    return new vscode.Hover(md, range);
  }

  private appendUses(md: vscode.MarkdownString, refs: ReferenceHit[]): void {
    if (refs.length) {
      const files = [...new Map(refs.map((r) => [`${r.root}/${r.path}`, r])).values()];
      const links = files
        .slice(0, 4)
        .map((r) => `[${escapeMarkdown(`${r.path}:${r.line + 1}`)}](${locationLink({ root: r.root, path: r.path, line: r.line + 1 })})`);
      md.appendMarkdown(`\n\nUsed in ${files.length} file${files.length === 1 ? "" : "s"}: ${links.join(", ")}${files.length > 4 ? ", …" : ""}`);
    }
  }

  private appendVariable(md: vscode.MarkdownString, hit: VariableHit): void {
    const v = hit.variable;
    const label = `${hit.path}:${v.line + 1}`;
    const owner = v.container ? ` in \`${v.container.replace(/`/g, "")}\`` : "";
    md.appendMarkdown(`\n\nvariable \`${v.name.replace(/`/g, "")}\`${owner} — [${escapeMarkdown(label)}](${locationLink({ root: hit.root, path: hit.path, line: v.line + 1 })})\n`);
    md.appendCodeblock(v.text, languageIdFor(hit.path));
  }

  private appendDefinition(md: vscode.MarkdownString, hit: SymbolHit): void {
    const d = hit.definition;
    const label = `${hit.path}:${d.nameLine + 1}`;
    const owner = d.container ? ` in \`${d.container.replace(/`/g, "")}\`` : "";
    md.appendMarkdown(`\n\n${d.kind} \`${d.name.replace(/`/g, "")}\`${owner} — [${escapeMarkdown(label)}](${locationLink({ root: hit.root, path: hit.path, line: d.nameLine + 1 })})\n`);
    md.appendCodeblock(d.signature, languageIdFor(hit.path));
    if (d.doc) md.appendText(inert(d.doc.length > 400 ? `${d.doc.slice(0, 399)}…` : d.doc));
  }
}

function languageIdFor(p: string): string {
  const ext = p.slice(p.lastIndexOf(".") + 1).toLowerCase();
  const map: Record<string, string> = { ts: "typescript", tsx: "typescriptreact", js: "javascript", jsx: "javascriptreact", py: "python", go: "go", rs: "rust", java: "java", c: "c", h: "cpp", cc: "cpp", cpp: "cpp", hpp: "cpp", cs: "csharp", rb: "ruby", php: "php", kt: "kotlin", kts: "kotlin" };
  return map[ext] ?? "plaintext";
}

/** The model's line about the symbol under the mouse: only when the model is ready; empty-handed otherwise. */
export class ModelHoverProvider implements vscode.HoverProvider {
  constructor(
    private readonly controller: IndexController,
    private readonly model: { snapshot(): ModelSnapshot },
    private readonly explanations: ExplanationCache,
  ) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    if (!modelCanAnswer(this.model.snapshot())) return undefined;
    const word = wordAt(this.controller, document, position);
    const at = word && symbolAt(word, position.line);
    const hit = at?.hits[0];
    const record = hit && this.controller.index?.get(hit.root, hit.path);
    if (!at || !hit || !record) return undefined;
    // A documented definition explains itself: the index's hover shows its doc, and a small model's paraphrase of it
    // was often wrong ("Creates a new mechanism for the given `options` object." over "Computes the total of an invoice").
    if (hit.definition.doc.trim()) return undefined;
    const target = { name: hit.definition.name, root: hit.root, path: hit.path, line: hit.definition.nameLine, fileHash: record.hash };
    // VS Code cancels the token when the hover goes away (or moves to another word).
    const abort = new AbortController();
    const onCancel = token.onCancellationRequested(() => abort.abort());
    try {
      const line = await this.explanations.get(target, abort.signal);
      if (!line || token.isCancellationRequested) return undefined;
      const md = new vscode.MarkdownString(undefined, true);
      md.isTrusted = false;
      md.supportHtml = false;
      md.appendMarkdown("**Longview model** · ");
      md.appendText(inert(line));
      return new vscode.Hover(md, at.range);
    } finally {
      onCancel.dispose();
    }
  }
}
