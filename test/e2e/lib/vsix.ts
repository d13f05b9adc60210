// What a VSIX holds: its zip entries, read with unzip (apt, installed by scripts/setup.sh).
import { execFileSync } from "node:child_process";

/** Entry names of the VSIX; the extension's own files are under "extension/". */
export function vsixEntries(vsix: string): string[] {
  return execFileSync("unzip", ["-Z1", vsix], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).split("\n").filter(Boolean);
}
