/** Longview's settings, read from VS Code's configuration in one place. */
import * as vscode from "vscode";
import type { IndexOptions } from "../../model-runtime/src/index/types";
import { DEFAULT_EXCLUDES } from "../../model-runtime/src/index/types";

export interface LongviewSettings {
  backend: "auto" | "cpu" | "webgpu" | "cuda";
  modelPath: string;
  maxContextTokens: number;
  /** Most tokens the model writes for one chat answer. */
  maxAnswerTokens: number;
  /** Most memory for the model's KV cache, in MB (it bounds the context). */
  maxModelMemoryMB: number;
  /** Most disk for the KV cache files, in MB. */
  maxKvCacheDiskMB: number;
  indexThreads: number;
}

export function readSettings(): LongviewSettings {
  const c = vscode.workspace.getConfiguration("longview");
  return {
    backend: c.get("backend", "auto"),
    modelPath: c.get("modelPath", ""),
    maxContextTokens: c.get("maxContextTokens", 1 << 20),
    maxAnswerTokens: Math.max(16, Math.min(3072, c.get("maxAnswerTokens", 512))),
    // The schema's minimums, enforced here too (settings.json is not validated before we read it).
    maxModelMemoryMB: Math.max(256, c.get("maxModelMemoryMB", 2048)),
    maxKvCacheDiskMB: Math.max(0, c.get("maxKvCacheDiskMB", 4096)),
    indexThreads: c.get("indexThreads", 0),
  };
}

/** Index options for one workspace folder: files.exclude (enabled entries) + longview.exclude/include. */
export function indexOptionsFor(folder?: vscode.WorkspaceFolder): Partial<IndexOptions> {
  const lv = vscode.workspace.getConfiguration("longview", folder);
  const filesExclude = vscode.workspace.getConfiguration("files", folder).get<Record<string, boolean | { when: string }>>("exclude", {});
  // `true` entries only: a `{ when }` entry depends on sibling files and cannot be decided per path here.
  const fromFiles = Object.entries(filesExclude)
    .filter(([, v]) => v === true)
    .map(([glob]) => glob);
  return {
    exclude: [...fromFiles, ...lv.get<string[]>("exclude", DEFAULT_EXCLUDES)],
    include: lv.get<string[]>("include", []),
    useGitignore: lv.get<boolean>("useGitignore", true),
    maxFileBytes: lv.get<number>("maxFileSizeKB", 2048) * 1024,
  };
}

/** True when a configuration change affects what the index contains. */
export function affectsIndex(e: vscode.ConfigurationChangeEvent): boolean {
  return ["files.exclude", "longview.exclude", "longview.include", "longview.useGitignore", "longview.maxFileSizeKB"].some((s) =>
    e.affectsConfiguration(s),
  );
}
