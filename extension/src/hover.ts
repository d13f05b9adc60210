/**
 * Hover explanations from the index: where the symbol under the mouse is defined, its signature and doc,
 * and who uses it — immediately (a Map lookup), with links that open each location.
 */
import * as vscode from "vscode";
import type { SymbolHit } from "../../model-runtime/src/index/types";
import type { IndexController } from "./index-controller";
import { inert } from "./inert-text";
import { OPEN_LOCATION_COMMAND, escapeMarkdown, locationLink } from "./locations";

const MAX_DEFINITIONS = 3;

export class LongviewHoverProvider implements vscode.HoverProvider {
  constructor(private readonly controller: IndexController) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const index = this.controller.index;
    if (!index) return undefined;
    const range = document.getWordRangeAtPosition(position, /[A-Za-z_$][\w$]*/);
    if (!range) return undefined;
    const word = document.getText(range);
    const hits = index.find(word, { limit: 20 });
    if (hits.length === 0) return undefined;
    const folder = vscode.workspace.getWorkspaceFolder(document.uri);
    const here = folder ? vscode.workspace.asRelativePath(document.uri, false) : undefined;
    // Definitions in this file first: that is usually the one meant.
    hits.sort((a, b) => Number(b.path === here && b.root === folder?.name) - Number(a.path === here && a.root === folder?.name));
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: [OPEN_LOCATION_COMMAND] };
    md.supportHtml = false;
    md.appendMarkdown(`**Longview** · index\n\n`);
    for (const hit of hits.slice(0, MAX_DEFINITIONS)) this.appendDefinition(md, hit);
    if (hits.length > MAX_DEFINITIONS) md.appendMarkdown(`\n\n…and ${hits.length - MAX_DEFINITIONS} more definitions\n`);
    const refs = index.references(word, 200);
    if (refs.length) {
      const files = [...new Map(refs.map((r) => [`${r.root}/${r.path}`, r])).values()];
      const links = files
        .slice(0, 4)
        .map((r) => `[${escapeMarkdown(`${r.path}:${r.line + 1}`)}](${locationLink({ root: r.root, path: r.path, line: r.line + 1 })})`);
      md.appendMarkdown(`\n\nUsed in ${files.length} file${files.length === 1 ? "" : "s"}: ${links.join(", ")}${files.length > 4 ? ", …" : ""}`);
    }
    return new vscode.Hover(md, range);
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
  const map: Record<string, string> = { ts: "typescript", tsx: "typescriptreact", js: "javascript", jsx: "javascriptreact", py: "python", go: "go", rs: "rust", java: "java", c: "c", h: "cpp", cc: "cpp", cpp: "cpp", hpp: "cpp" };
  return map[ext] ?? "plaintext";
}
