// Tests edit their workspace, so they always get a fresh COPY of a committed fixture, never the fixture itself.
//
// Two entries of a fixture are stored under other names and renamed in the copy:
// - `gitignore.fixture` -> `.gitignore`: stored as `.gitignore` this repository's own git would obey it and
//   leave the fixture's `generated/` folder out of commits;
// - `node_modules.fixture/` -> `node_modules/`: the repository's .gitignore ignores every node_modules folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./paths";

const RENAMES: Record<string, string> = {
  "gitignore.fixture": ".gitignore",
  "node_modules.fixture": "node_modules",
};

export function fixtureDir(name: string): string {
  return path.join(repoRoot, "test/fixtures", name);
}

/**
 * Copies test/fixtures/<name> into a new temporary folder named `<name>` (the workspace folder's name is what
 * the index reports as `root`) and returns its absolute path.
 */
export function copyFixture(name: string): string {
  const source = fixtureDir(name);
  if (!fs.existsSync(source)) throw new Error(`fixture ${source} does not exist`);
  const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "longview-ws-")), name);
  fs.cpSync(source, target, { recursive: true });
  for (const [stored, real] of Object.entries(RENAMES)) renameAll(target, stored, real);
  return target;
}

function renameAll(dir: string, stored: string, real: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.name === stored) {
      fs.renameSync(full, path.join(dir, real));
    } else if (entry.isDirectory()) {
      renameAll(full, stored, real);
    }
  }
}
