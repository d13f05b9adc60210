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

/** 0 for the library's own code, 1 for examples (and benchmarks), 2 for tests: the order in which answers list definitions. */
export function placeRank(path: string, name: string): number {
  if (isTestCode(path, name)) return 2;
  return isExampleCode(path) ? 1 : 0;
}
