// Reads what test/e2e/lib/guard-preload.cjs recorded in the extension host: network attempts (all blocked) and
// native addons loaded, each with its caller's stack, so a test can tell Longview's from VS Code's own.
import fs from "node:fs";
import path from "node:path";

export const guardPreload = path.join(__dirname, "guard-preload.cjs");

export interface GuardEntry {
  event: "installed" | "blocked" | "attempt" | "ipc" | "dlopen";
  pid: number;
  thread: number;
  what: string;
  target: string;
  stack: string[];
}

export function readGuardLog(file: string): GuardEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as GuardEntry);
}

/** Installed extensions live in <extensions-dir>/<publisher>.<name>-<version>/. */
export const LONGVIEW_CODE = /[/\\]longview\.longview-[^/\\]+[/\\]/;

/** An entry caused by Longview's code: its stack passes through the installed extension. */
export function byLongview(e: GuardEntry): boolean {
  return e.stack.some((l) => LONGVIEW_CODE.test(l)) || LONGVIEW_CODE.test(e.target);
}

export function describeEntry(e: GuardEntry): string {
  return `${e.event} ${e.what} ${e.target} (pid ${e.pid}, thread ${e.thread})\n      ${e.stack.slice(0, 6).join("\n      ")}`;
}

/**
 * Extension hosts that code-server launched (its log names their pids) but that the guard did not run in: must be
 * none, or "no attempt recorded" would prove nothing for them.
 */
export function unguardedExtensionHosts(serverDir: string, entries: GuardEntry[]): number[] {
  const log = path.join(serverDir, "server.log");
  const launched = fs.existsSync(log) ? [...fs.readFileSync(log, "utf8").matchAll(/<(\d+)> Launched Extension Host Process/g)].map((m) => Number(m[1])) : [];
  if (launched.length === 0) throw new Error(`${log} names no extension host`);
  const guarded = new Set(entries.filter((e) => e.event === "installed" && e.what === "extension host").map((e) => e.pid));
  return launched.filter((pid) => !guarded.has(pid));
}
