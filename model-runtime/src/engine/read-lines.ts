/**
 * Finer than files for the read map (RepoSession.readMap): a body block's attention mass split over the source lines
 * its tokens cover, and a repository-map block's mass split over the definitions its entries name. Only blocks with
 * mass are walked (an answer of ~100 tokens touches a few thousand blocks at most), a block's tokens once each.
 *
 * Mass is per key block, so within a block it is spread by token count. A body block's share of header tokens
 * (path, import anchors, <|endfile|>) stays with the file, not a line; padding is not counted (the last block of a
 * file gives all its mass to the tokens it holds).
 */
import type { RepoLayout } from "../layout/repo-layout";

/** Attention mass on one source line of a file. `line` is 0-based (the index's convention). */
export interface LineReading {
  line: number;
  mass: number;
}

/** Attention mass on one definition's entry in the repository map. `line` is the name's 0-based line. */
export interface AnchorReading {
  name: string;
  line: number;
  mass: number;
}

/** A file's reading while RepoSession.readMap walks the blocks. */
export interface FileTally {
  root: string;
  path: string;
  mass: number;
  /** 0-based line → mass. */
  lines?: Map<number, number>;
  /** `${name}\u0000${line}` → the definition's anchor mass. */
  anchors?: Map<string, AnchorReading>;
}

type Locator = Pick<RepoLayout, "locate" | "blockSize">;

/** Adds block `block`'s `mass` to `lines` (0-based line → mass), split over its body tokens by count. */
export function spreadOverLines(layout: Locator, block: number, mass: number, lines: Map<number, number>): void {
  const B = layout.blockSize;
  let content = 0;
  let runLine = -1;
  let runCount = 0;
  const runs: number[] = [];
  for (let t = block * B; t < (block + 1) * B; t++) {
    const loc = layout.locate(t);
    if (loc.kind === "pad") continue;
    content++;
    if (loc.kind !== "body") continue;
    // Body tokens come in text order: count runs of one line instead of a map lookup per token.
    if (loc.line === runLine) runCount++;
    else {
      if (runCount) runs.push(runLine, runCount);
      runLine = loc.line;
      runCount = 1;
    }
  }
  if (runCount) runs.push(runLine, runCount);
  for (let i = 0; i < runs.length; i += 2) lines.set(runs[i], (lines.get(runs[i]) ?? 0) + (mass * runs[i + 1]) / content);
}

/** Plain, sorted readings from the accumulating maps. */
export function lineReadings(lines: Map<number, number> | undefined): LineReading[] {
  if (!lines) return [];
  return [...lines].filter(([, m]) => m > 0).map(([line, mass]) => ({ line, mass })).sort((a, b) => a.line - b.line);
}

export function anchorReadings(anchors: Map<string, AnchorReading> | undefined): AnchorReading[] {
  if (!anchors) return [];
  return [...anchors.values()].filter((a) => a.mass > 0).sort((a, b) => b.mass - a.mass);
}
