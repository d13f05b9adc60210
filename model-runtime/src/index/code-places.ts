/**
 * Where a definition sits in a repository, as questions weigh it: questions are about the library's own code, rarely
 * about its tests or the example programs shipped with it (which use its API rather than implement it).
 */

/** Test files and test functions, by the conventions of the indexed languages. */
export function isTestCode(path: string, name: string): boolean {
  return (
    /(^|\/)(tests?|__tests__|spec|testdata|testing)\//.test(path) ||
    // .NET test projects: MyLib.Tests/, MyLib.UnitTests/.
    /(^|\/)[\w.]*\.(Unit|Integration)?Tests?\//.test(path) ||
    /(_test\.go|\.(test|spec)\.[cm]?[jt]sx?|(^|\/)test_[^/]*\.py|_test\.py|Tests?\.(java|kt|cs|php)|_(test|spec)\.rb)$/.test(path) ||
    /^(Test|Benchmark|Example)[A-Z_]/.test(name) ||
    /^test_/.test(name)
  );
}

/**
 * Example, demo and benchmark programs shipped with a library: they use its API rather than implement it (Hono's
 * `benchmarks/routers-deno/src/tool.mts` defines a `handler` that no question about handlers means).
 */
export function isExampleCode(path: string): boolean {
  return /(^|\/)(examples?|samples?|demos?|benchmarks?|bench)\//.test(path);
}

/**
 * A test module inside a library file: Rust's `#[cfg(test)] mod tests { … }` (axum's connect_info.rs). Its functions
 * are tests whatever their names, and its lines are test code (WorkspaceIndex.references lists them with the tests).
 */
export function isTestModule(def: { name: string; kind: string }): boolean {
  return def.kind === "module" && /^tests?$/.test(def.name);
}

/**
 * 0 for the library's own code, 1 for examples (and benchmarks), 2 for tests: the order in which answers list
 * definitions. `container`: a definition in a test module (`tests.custom_listener`, isTestModule) is a test.
 */
export function placeRank(path: string, name: string, container?: string): number {
  if (isTestCode(path, name) || (container !== undefined && /(^|[.:])tests?$/.test(container))) return 2;
  return isExampleCode(path) ? 1 : 0;
}

/** Operating systems a path's code is written for, by folder (`os/win32/`, `src/unix/`) or file suffix (Go's `_windows.go`). */
type OsFamily = "windows" | "unix" | "linux" | "darwin" | "bsd" | "solaris" | "aix";

const OS_WORDS: ReadonlyArray<[RegExp, OsFamily]> = [
  [/^(win32|win64|windows|win|msvc|mingw|cygwin)$/, "windows"],
  [/^(unix|posix)$/, "unix"],
  [/^linux$/, "linux"],
  [/^(darwin|macos|osx)$/, "darwin"],
  [/^(bsd|freebsd|openbsd|netbsd|dragonfly)$/, "bsd"],
  [/^(solaris|sunos|illumos)$/, "solaris"],
  [/^aix$/, "aix"],
];

/** The OS a path's code is written for, or undefined for code every platform runs. */
export function osOfPath(path: string): OsFamily | undefined {
  const parts = path.toLowerCase().split("/");
  const file = parts.pop() ?? "";
  // Folders (`src/os/win32/`), then a file named for one (`windows.rs`, `win32.c`) or suffixed with one (`_linux.go`).
  const stem = file.replace(/\.[^.]*$/, "");
  const words = [...parts, stem, ...(stem.match(/_([a-z0-9]+)$/)?.slice(1) ?? []), ...(stem.match(/_([a-z0-9]+)_(?:amd64|arm64|386|arm)$/)?.slice(1) ?? [])];
  for (const word of words) for (const [pattern, family] of OS_WORDS) if (pattern.test(word)) return family;
  return undefined;
}

/** The OS families whose code runs on `platform` (Node's process.platform): a Linux machine runs unix/ and linux/ code. */
function familiesOf(platform: string): ReadonlySet<OsFamily> {
  if (platform === "win32") return new Set(["windows"]);
  const own: Record<string, OsFamily> = { linux: "linux", darwin: "darwin", freebsd: "bsd", openbsd: "bsd", netbsd: "bsd", sunos: "solaris", aix: "aix" };
  return new Set<OsFamily>(["unix", ...(own[platform] ? [own[platform]] : [])]);
}

/**
 * 1 for code written for another operating system than the one Longview runs on, else 0: of two definitions of one
 * name, nginx's `ngx_master_process_cycle` in src/os/unix/ and src/os/win32/, a Linux user means the first (the
 * answer had cited the Windows port). Only orders places of the same name; search ranks are not changed by it.
 */
export function platformRank(path: string, platform: string = process.platform): number {
  const os = osOfPath(path);
  return os === undefined || familiesOf(platform).has(os) ? 0 : 1;
}

/**
 * `items` with the places of each name re-ordered this platform's first (platformRank), every other item where it was:
 * a search's hit for nginx's `ngx_master_process_cycle` in src/os/win32/ swaps with the one in src/os/unix/ below it.
 */
export function thisPlatformFirst<T>(items: readonly T[], nameOf: (item: T) => string, pathOf: (item: T) => string, platform: string = process.platform): T[] {
  const out = [...items];
  const positions = new Map<string, number[]>();
  items.forEach((item, i) => {
    const list = positions.get(nameOf(item));
    if (list) list.push(i);
    else positions.set(nameOf(item), [i]);
  });
  for (const at of positions.values()) {
    if (at.length < 2) continue;
    const ordered = at.map((i) => items[i]).sort((a, b) => platformRank(pathOf(a), platform) - platformRank(pathOf(b), platform));
    at.forEach((i, j) => (out[i] = ordered[j]));
  }
  return out;
}
