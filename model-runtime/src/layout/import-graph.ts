/**
 * In what order should files be laid out so that a file's dependencies come before it (definitions before their
 * users, like a reader who starts with the basics), and how many files import each (the most-imported are kept when
 * a repository exceeds the context). Which file an import refers to: index/import-resolution.ts.
 */
import { importTargets } from "../index/import-resolution";
import type { FileRecord } from "../index/types";

export interface ImportGraph {
  /** deps[i] = indices of files that file i imports (resolved, deduplicated, no self edges). */
  deps: number[][];
  /** How many files import file i. */
  inDegree: Int32Array;
}

export function buildImportGraph(files: FileRecord[]): ImportGraph {
  const deps = importTargets(files);
  const inDegree = new Int32Array(files.length);
  for (const targets of deps) for (const j of targets) inDegree[j]++;
  return { deps, inDegree };
}

/**
 * Layout order: dependencies before dependents (depth-first post-order), starting from files in path order so
 * that a folder's files stay together; cycles are cut where the walk meets them.
 */
export function dependencyOrder(files: FileRecord[], graph: ImportGraph): number[] {
  const byPath = files.map((_, i) => i).sort((a, b) => {
    const fa = files[a];
    const fb = files[b];
    return fa.root < fb.root ? -1 : fa.root > fb.root ? 1 : fa.path < fb.path ? -1 : fa.path > fb.path ? 1 : 0;
  });
  const state = new Uint8Array(files.length); // 0 new, 1 on stack, 2 done
  const order: number[] = [];
  for (const start of byPath) {
    if (state[start]) continue;
    // Iterative DFS: repositories can have import chains deeper than the JS stack.
    const stack: Array<[number, number]> = [[start, 0]];
    state[start] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      const deps = graph.deps[node];
      if (next < deps.length) {
        top[1]++;
        const d = deps[next];
        if (state[d] === 0) {
          state[d] = 1;
          stack.push([d, 0]);
        }
      } else {
        stack.pop();
        state[node] = 2;
        order.push(node);
      }
    }
  }
  return order;
}
