/**
 * Which files of a big repository go into one sample. A sample should look like a smaller repository: files that
 * import each other, and their neighbours in the folder tree. Starting from a seed file (one not yet covered by an
 * earlier sample), the subset grows breadth-first over import edges (both ways), then folder siblings, until it
 * holds a little more than the budget; the layout then leaves out the least-imported files over budget, as it does
 * for any repository. Files bigger than the budget are never picked (the layout would leave them out anyway): they
 * appear in samples of a length they fit.
 */
import type { FileRecord } from "../index/types";
import { buildImportGraph } from "../layout/import-graph";

/** Rough tokens of a file in the layout (bytes per token of our tokenizer on code, plus a header). */
export function estimateTokens(r: FileRecord): number {
  return Math.ceil(r.size / 3.4) + 12;
}

function dirOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "" : p.slice(0, i);
}

export class SubsetPicker {
  private readonly neighbours: number[][];
  private readonly byDir = new Map<string, number[]>();
  private readonly covered: Uint8Array;
  readonly totalTokens: number;

  constructor(private readonly records: readonly FileRecord[]) {
    const graph = buildImportGraph([...records]);
    this.neighbours = records.map(() => []);
    graph.deps.forEach((deps, i) => {
      for (const d of deps) {
        this.neighbours[i].push(d);
        this.neighbours[d].push(i);
      }
    });
    records.forEach((r, i) => {
      const d = dirOf(r.path);
      (this.byDir.get(d) ?? this.byDir.set(d, []).get(d)!).push(i);
    });
    this.covered = new Uint8Array(records.length);
    this.totalTokens = records.reduce((a, r) => a + estimateTokens(r), 0);
  }

  /** Tokens of the files that can appear in a sample of `budgetTokens` (bigger files never can). */
  fittingTokens(budgetTokens: number): number {
    return this.records.reduce((a, r) => a + (estimateTokens(r) <= budgetTokens ? estimateTokens(r) : 0), 0);
  }

  /** Fraction of the files that some subset has included so far. */
  coverage(): number {
    let n = 0;
    for (const c of this.covered) n += c;
    return this.records.length ? n / this.records.length : 1;
  }

  /** Files worth seeding from: code with definitions that fits the budget, not yet covered (any file once all are). */
  private seed(rand: () => number, budgetTokens: number): number {
    const fresh: number[] = [];
    const withDefs: number[] = [];
    this.records.forEach((r, i) => {
      if (r.definitions.length === 0 || estimateTokens(r) > budgetTokens) return;
      withDefs.push(i);
      if (!this.covered[i]) fresh.push(i);
    });
    const pool = fresh.length ? fresh : withDefs.length ? withDefs : this.records.map((_, i) => i);
    return pool[Math.floor(rand() * pool.length)];
  }

  /** A subset of about `slack` × `budgetTokens` (all files when the repository is that small). */
  pick(budgetTokens: number, rand: () => number, slack = 1.3): FileRecord[] {
    const want = budgetTokens * slack;
    if (this.totalTokens <= want) {
      this.covered.fill(1);
      return [...this.records];
    }
    const taken = new Uint8Array(this.records.length);
    const out: number[] = [];
    let tokens = 0;
    const take = (i: number) => {
      taken[i] = 1;
      out.push(i);
      tokens += estimateTokens(this.records[i]);
    };
    while (tokens < want && out.length < this.records.length) {
      const queue = [this.seed(rand, budgetTokens)];
      if (taken[queue[0]]) {
        const rest = this.records.map((_, i) => i).filter((i) => !taken[i]);
        queue[0] = rest[Math.floor(rand() * rest.length)];
      }
      take(queue[0]);
      for (let q = 0; q < queue.length && tokens < want; q++) {
        const i = queue[q];
        const siblings = this.byDir.get(dirOf(this.records[i].path)) ?? [];
        for (const j of [...this.neighbours[i], ...siblings]) {
          if (tokens >= want) break;
          if (taken[j] || estimateTokens(this.records[j]) > budgetTokens) continue;
          take(j);
          queue.push(j);
        }
      }
    }
    for (const i of out) this.covered[i] = 1;
    return out.sort((a, b) => a - b).map((i) => this.records[i]);
  }
}
