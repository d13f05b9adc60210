/** Opening index locations (root name + relative path + 1-based line) in the editor, and links to them. */
import * as vscode from "vscode";
import type { IndexController } from "./index-controller";

export interface LocationArgs {
  root: string;
  path: string;
  /** 1-based. */
  line: number;
}

export const OPEN_LOCATION_COMMAND = "longview.openLocation";

export async function openLocation(controller: IndexController, args: LocationArgs): Promise<void> {
  const abs = controller.absolutePath(args.root, args.path);
  if (!abs) {
    void vscode.window.showWarningMessage(`Longview: ${args.path} is not in an open workspace folder.`);
    return;
  }
  const line = Math.max(0, args.line - 1);
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(abs));
  const pos = new vscode.Position(Math.min(line, doc.lineCount - 1), 0);
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos), preview: true });
}

/** A `command:` link for trusted markdown (hovers), limited to our open-location command. */
export function locationLink(args: LocationArgs): string {
  const query = encodeURIComponent(JSON.stringify([args]));
  return `command:${OPEN_LOCATION_COMMAND}?${query}`;
}

/** Escape text for inclusion in markdown link labels and prose (repository text is untrusted). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}\[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}
