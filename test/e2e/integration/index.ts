// extensionTestsPath entry: VS Code's test runner (code-server via test/e2e/run-integration.ts, or
// @vscode/test-electron) loads this module in the extension host and awaits run(); a rejection fails the run.
import Mocha from "mocha";

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: "tdd", color: false, reporter: "spec", timeout: 60_000 });
  // What mocha does per file before loading it: binds suite()/test() to this instance. The test modules are
  // imported only afterwards (a dynamic import stays lazy in the bundle).
  mocha.suite.emit("pre-require", globalThis, "longview-integration", mocha);
  await import("./longview.suite");
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} integration test(s) failed`);
}
