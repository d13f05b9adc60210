/**
 * One repository unit indexed with the product's own Indexer, and its files' text read exactly as the layout reads
 * it (readLayoutSources). Training samples and evaluation contexts are both built from this.
 */
import { Indexer } from "../index/indexer";
import { DEFAULT_EXCLUDES, type FileRecord, type IndexRoot } from "../index/types";
import { readLayoutSources } from "../layout/sources";
import type { RepoUnit } from "./corpus-units";

export interface RepoFiles {
  unitId: string;
  root: IndexRoot;
  records: FileRecord[];
  /** path → text. */
  texts: Map<string, string>;
}

export interface IndexUnitOptions {
  /** Parse worker threads (0: this thread). */
  threads?: number;
  /** Where the unit's index persists between runs (a re-run then parses nothing). */
  storeDir?: string;
  log?: (message: string) => void;
}

/** Root name of a unit: the index reports it in every record; keep it short and free of separators. */
export function rootNameOf(unit: Pick<RepoUnit, "id">): string {
  return unit.id.replace(/[^\w.@-]+/g, "_");
}

export async function indexUnit(unit: RepoUnit, opts: IndexUnitOptions = {}): Promise<RepoFiles> {
  const root: IndexRoot = { name: rootNameOf(unit), path: unit.path };
  const indexer = new Indexer({
    roots: [root],
    options: {
      exclude: [...DEFAULT_EXCLUDES, ...(unit.exclude ?? []), ...(unit.only ? ["*/**"] : [])],
      include: unit.only ?? [],
    },
    storeDir: opts.storeDir,
    threads: opts.threads ?? 1,
    log: opts.log,
  });
  try {
    await indexer.build();
    const sources = readLayoutSources(indexer.index, [root], opts.log);
    sources.sort((a, b) => (a.record.path < b.record.path ? -1 : a.record.path > b.record.path ? 1 : 0));
    return {
      unitId: unit.id,
      root,
      records: sources.map((s) => s.record),
      texts: new Map(sources.map((s) => [s.record.path, s.text])),
    };
  } finally {
    await indexer.dispose();
  }
}
