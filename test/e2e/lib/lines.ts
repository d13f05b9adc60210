// Expected positions come from the fixture's text, never from counting lines by hand.
import fs from "node:fs";
import path from "node:path";

/** 0-based line of the first line of `file` (relative to `workspace`) that contains `needle`. */
export function lineOf(workspace: string, file: string, needle: string): number {
  const lines = fs.readFileSync(path.join(workspace, file), "utf8").split("\n");
  const index = lines.findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`${file} has no line containing ${JSON.stringify(needle)}`);
  return index;
}
