/**
 * "@" mentions in chat questions: `@src/billing.ts` names a file of the index, `@RateLimiter` a definition.
 * A mention scopes the question (see scoped-answer.ts); completion suggests both kinds from the index while the
 * user types. No `vscode` import (unit-tested on a real index).
 */
import type { FileRecord } from "../../model-runtime/src/index/types";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import type { MentionItem } from "../../webview/src/protocol";

/** `@token` at the start or after whitespace (so "me@example.com" is not a mention). */
const MENTION = /(^|\s)@([^\s@`]+)/g;
/** Sentence punctuation that may follow a mention and is not part of it. */
const TRAILING = /[?!,;:)\]}'".]+$/;

export interface ParsedQuestion {
  /** The question without its mentions. */
  text: string;
  /** Mention tokens without "@", in order, unique. */
  mentions: string[];
}

export function parseMentions(question: string): ParsedQuestion {
  const mentions: string[] = [];
  const text = question
    .replace(MENTION, (_all, before: string, raw: string) => {
      const token = raw.replace(TRAILING, "") || raw;
      if (!mentions.includes(token)) mentions.push(token);
      return before + raw.slice(token.length);
    })
    .replace(/\s+/g, " ")
    .trim();
  return { text, mentions };
}

export type ResolvedMention = { kind: "file"; root: string; path: string } | { kind: "symbol"; name: string };

/** What a mention token names: a file (exact path, root/path, or a unique path suffix), else a definition. */
export function resolveMention(index: WorkspaceIndex, token: string): ResolvedMention | undefined {
  for (const candidate of [token, token.replace(TRAILING, "")]) {
    if (!candidate) continue;
    const file = findFile(index, candidate);
    if (file) return { kind: "file", root: file.root, path: file.path };
    const hits = index.find(candidate, { limit: 1 });
    if (hits.length > 0) return { kind: "symbol", name: hits[0].definition.name };
  }
  return undefined;
}

function findFile(index: WorkspaceIndex, token: string): FileRecord | undefined {
  const suffixMatches: FileRecord[] = [];
  for (const rec of index.allFiles()) {
    if (rec.path === token || `${rec.root}/${rec.path}` === token) return rec;
    if (token.includes(".") && rec.path.endsWith(`/${token}`)) suffixMatches.push(rec);
  }
  return suffixMatches.length === 1 ? suffixMatches[0] : undefined;
}

export interface Scope {
  files: Array<{ root: string; path: string }>;
  symbols: string[];
  /** Tokens that name nothing in the index. */
  unknown: string[];
}

export function resolveScope(index: WorkspaceIndex, mentions: string[]): Scope {
  const scope: Scope = { files: [], symbols: [], unknown: [] };
  for (const token of mentions) {
    const r = resolveMention(index, token);
    if (!r) scope.unknown.push(token);
    else if (r.kind === "file") {
      if (!scope.files.some((f) => f.root === r.root && f.path === r.path)) scope.files.push({ root: r.root, path: r.path });
    } else if (!scope.symbols.includes(r.name)) scope.symbols.push(r.name);
  }
  return scope;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "" : p.slice(0, i);
}

/**
 * Suggestions for the text typed after "@": files whose path contains it (file-name prefix first) and
 * definitions whose name contains it (prefix first). A fragment that looks like a path lists files first.
 */
export function mentionCompletions(index: WorkspaceIndex, fragment: string, limit = 12): MentionItem[] {
  const f = fragment.toLowerCase();
  const roots = new Set<string>();
  const files: Array<{ rec: FileRecord; rank: number }> = [];
  for (const rec of index.allFiles()) {
    roots.add(rec.root);
    const p = rec.path.toLowerCase();
    const base = basename(p);
    const rank = !f ? 3 : base.startsWith(f) ? 0 : base.includes(f) ? 1 : p.includes(f) || `${rec.root.toLowerCase()}/${p}`.includes(f) ? 2 : -1;
    if (rank >= 0) files.push({ rec, rank });
  }
  const multiRoot = roots.size > 1;
  files.sort((a, b) => a.rank - b.rank || a.rec.path.length - b.rec.path.length || (a.rec.path < b.rec.path ? -1 : 1));
  const fileItems: MentionItem[] = files.slice(0, limit).map(({ rec }) => {
    const insert = multiRoot ? `${rec.root}/${rec.path}` : rec.path;
    const folder = dirname(rec.path);
    return { kind: "file", label: basename(rec.path), detail: multiRoot ? `${rec.root}${folder ? `/${folder}` : ""}` : folder, insert };
  });

  const names = f ? index.searchNames(fragment, 50) : [];
  names.sort((a, b) => Number(!a.toLowerCase().startsWith(f)) - Number(!b.toLowerCase().startsWith(f)) || a.length - b.length || (a < b ? -1 : 1));
  const symbolItems: MentionItem[] = [];
  for (const name of names) {
    const hit = index.find(name, { limit: 1 })[0];
    if (!hit) continue;
    const d = hit.definition;
    const where = `${multiRoot ? `${hit.root}/` : ""}${hit.path}:${d.nameLine + 1}`;
    symbolItems.push({ kind: "symbol", label: name, detail: `${d.kind}${d.container ? ` in ${d.container}` : ""} · ${where}`, insert: name });
    if (symbolItems.length >= limit) break;
  }

  const pathLike = /[/.]/.test(fragment);
  const [first, second] = pathLike ? [fileItems, symbolItems] : [symbolItems, fileItems];
  // Half the list for each kind when both have enough; the rest goes to whichever has more.
  const half = Math.ceil(limit / 2);
  const takeFirst = Math.min(first.length, Math.max(half, limit - second.length));
  return [...first.slice(0, takeFirst), ...second.slice(0, limit - takeFirst)];
}
