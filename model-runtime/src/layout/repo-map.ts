/**
 * The repository map: the sequence's prefix and its GLOBAL ANCHORS. Every definition of every laid-out file
 * gets one compact entry here, grouped under its file's path, in layout order:
 *
 *   <|bos|><|repo_map|>
 *   <|path|>src/rates.ts<|endpath|> rate RateTable
 *   <|path|>src/billing.ts<|endpath|> computeTotal Ledger record
 *   … <|sep|>
 *
 * Gathering the anchors in one dense region (rather than at the top of each file) keeps them few blocks, so
 * every token can attend to all of them within a bounded per-row budget. An entry is just the name (about
 * 2-3 tokens): its tokens map back to the definition's file and line through the layout, so an answer that
 * points at an entry is cited exactly without the map spelling line numbers out. Over the token budget, the
 * least-used definitions (members before top-level ones) are left out and counted.
 */
import type { Definition, FileRecord } from "../index/types";
import type { PieceEncoder, SpecialIds } from "./tokens";

export interface RepoMapContent {
  ids: Int32Array;
  /** Per token: index (into the files passed in) of the file it names, or -1. */
  tokenFile: Int32Array;
  /** Per token: index into that file's definitions of the definition it names, or -1 (paths, markers). */
  tokenDef: Int32Array;
  /** Per file: per definition, the map token where its entry starts, or -1 if it was left out. */
  defToken: Int32Array[];
  definitionsListed: number;
  definitionsOmitted: number;
}

export interface RepoMapInput {
  files: FileRecord[];
  /** How many files use each name: the less used a definition, the sooner it is left out. */
  nameUses: Map<string, number>;
  budgetTokens: number;
}

export function definitionLabel(d: Definition): string {
  return ` ${d.name}`;
}

export function buildRepoMap(input: RepoMapInput, pieces: PieceEncoder, sp: SpecialIds): RepoMapContent {
  const { files, budgetTokens } = input;
  const pathIds = files.map((f) => pieces.encode(f.path));
  const labelIds = files.map((f) => f.definitions.map((d) => pieces.encode(definitionLabel(d))));
  const fixed = 3; // <|bos|><|repo_map|> … <|sep|>
  let total = fixed;
  for (let i = 0; i < files.length; i++) {
    total += pathIds[i].length + 2;
    for (const l of labelIds[i]) total += l.length;
  }

  // Over budget: keep the most-used definitions, top-level before members on ties.
  const keep = files.map((f) => new Uint8Array(f.definitions.length).fill(1));
  let omitted = 0;
  if (total > budgetTokens) {
    const all: Array<{ f: number; d: number; score: number }> = [];
    files.forEach((f, fi) => f.definitions.forEach((d, di) => all.push({ f: fi, d: di, score: (input.nameUses.get(d.name) ?? 0) * 2 + (d.container ? 0 : 1) })));
    all.sort((a, b) => a.score - b.score || b.f - a.f || b.d - a.d);
    for (const e of all) {
      if (total <= budgetTokens) break;
      keep[e.f][e.d] = 0;
      total -= labelIds[e.f][e.d].length;
      omitted++;
    }
  }

  const ids = new Int32Array(total);
  const tokenFile = new Int32Array(total).fill(-1);
  const tokenDef = new Int32Array(total).fill(-1);
  const defToken = files.map((f) => new Int32Array(f.definitions.length).fill(-1));
  let at = 0;
  const put = (piece: ArrayLike<number>, file = -1, def = -1) => {
    for (let j = 0; j < piece.length; j++) {
      ids[at] = piece[j];
      tokenFile[at] = file;
      tokenDef[at] = def;
      at++;
    }
  };
  put([sp.bos, sp.repoMap]);
  for (let i = 0; i < files.length; i++) {
    put([sp.path], i);
    put(pathIds[i], i);
    put([sp.endPath], i);
    for (let d = 0; d < labelIds[i].length; d++) {
      if (!keep[i][d]) continue;
      defToken[i][d] = at;
      put(labelIds[i][d], i, d);
    }
  }
  put([sp.sep]);
  return { ids, tokenFile, tokenDef, defToken, definitionsListed: files.reduce((a, f) => a + f.definitions.length, 0) - omitted, definitionsOmitted: omitted };
}
