/** Read the indexed files' text for the layout (decoded exactly as the indexer decoded them). */
import fs from "node:fs";
import path from "node:path";
import type { IndexRoot } from "../index/types";
import type { WorkspaceIndex } from "../index/workspace-index";
import { decodeText } from "../workspace/file-content";
import type { LayoutSource } from "./repo-layout";

export function readLayoutSources(index: WorkspaceIndex, roots: IndexRoot[], onError?: (message: string) => void): LayoutSource[] {
  const rootPaths = new Map(roots.map((r) => [r.name, r.path]));
  const out: LayoutSource[] = [];
  for (const record of index.allFiles()) {
    const base = rootPaths.get(record.root);
    if (!base) continue;
    try {
      out.push({ record, text: decodeText(fs.readFileSync(path.join(base, ...record.path.split("/")))).text });
    } catch (e) {
      // Deleted or unreadable since it was indexed: the next index update will drop it.
      onError?.(`${record.root}/${record.path}: ${(e as Error).message}`);
    }
  }
  return out;
}
