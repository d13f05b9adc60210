/**
 * Label repair: in a list answer each line is `label <|cite|>path:line<|endcite|>` (answer-format.ts), and the label
 * names a definition. A small model spells names approximately ("is_pep696" for is_pep695, "recordd"), and a label
 * that names nothing leaves its citation with nothing to stand on (every path open, line 1). So when a citation
 * starts, a label whose name the layout does not define is read as the nearest defined name — within a small edit
 * distance, and only when exactly one name is that near — for choosing the files and the line. The model's text is
 * left as written; a label too far from every name stays unknown.
 *
 * Measured before this design (docs/benchmarks/eval-model.md): constraining the label's tokens to defined names while
 * decoding derailed the model as often as it helped (a model that starts "absl." is pushed to another namespace
 * member), while the near-misses it fixed are exactly the ones repair fixes.
 */
export class DefinedNames {
  private readonly byLength = new Map<number, string[]>();
  private readonly all = new Set<string>();

  constructor(names: Iterable<string>) {
    for (const n of names) {
      if (!n || this.all.has(n)) continue;
      this.all.add(n);
      const list = this.byLength.get(n.length);
      if (list) list.push(n);
      else this.byLength.set(n.length, [n]);
    }
  }

  get size(): number {
    return this.all.size;
  }

  has(name: string): boolean {
    return this.all.has(name);
  }

  /**
   * `name` if defined; else the one defined name within the allowed distance (1 edit up to 8 characters, 2 beyond;
   * case-sensitive, a swap of neighbours counts 1); undefined when none or several are that near.
   */
  nearest(name: string): string | undefined {
    if (this.all.has(name)) return name;
    if (name.length < 4) return undefined;
    const limit = name.length <= 8 ? 1 : 2;
    let best: string | undefined;
    let bestDistance = limit + 1;
    let ties = 0;
    for (let len = name.length - limit; len <= name.length + limit; len++) {
      for (const candidate of this.byLength.get(len) ?? []) {
        const d = editDistance(name, candidate, bestDistance + 1);
        if (d > limit) continue;
        if (d < bestDistance) {
          best = candidate;
          bestDistance = d;
          ties = 0;
        } else if (d === bestDistance) ties++;
      }
    }
    return best !== undefined && ties === 0 ? best : undefined;
  }
}

/** Optimal-string-alignment distance (Damerau–Levenshtein without repeated edits of one substring), capped: returns ≥ cap early. */
export function editDistance(a: string, b: string, cap = Infinity): number {
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = new Array<number>(n + 1);
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2] + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= cap) return cap;
    prev2 = prev;
    prev = cur;
  }
  return prev[n];
}
