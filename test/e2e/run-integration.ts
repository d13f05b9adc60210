// Runs the integration suite INSIDE a real VS Code extension host (code-server), the way @vscode/test-electron
// does with --extensionDevelopmentPath / --extensionTestsPath, and exits with the suite's status.
//
// usage: node --import tsx test/e2e/run-integration.ts [--dev DIR] [--tests FILE] [--folder DIR] [--no-build]
//   --dev     extension to load in development mode (default: the repository)
//   --tests   extensionTestsPath, a module exporting run() (default: the bundled suite, dist/test/integration.js)
//   --folder  workspace to open (default: a fresh copy of test/fixtures/polyglot)
// env: TEST_TIMEOUT_MS (default 300000), VERBOSE=1 (all extension host output), KEEP=1 (keep temp folders)
import fs from "node:fs";
import path from "node:path";
import { format, parseArgs } from "node:util";
import { bundleIntegrationSuite } from "./lib/bundle-suite";
import { launchChromium, startCodeServer } from "./lib/code-server";
import { copyFixture } from "./lib/fixture";
import { repoRoot, screenshotsDir } from "./lib/paths";

// The workbench forwards everything the test extension host logs; these are offline noise.
const NOISE =
  /ENOTFOUND|EAI_AGAIN|open-vsx|marketplace|^\s+at |Creating a socket|AccountPolicyGate|authentication provider|connection token|reconnection-grace-time|additional builtin extensions|Service Worker|AgentHost|Creation of workbench contribution/i;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dev: { type: "string" },
      tests: { type: "string" },
      folder: { type: "string" },
      "no-build": { type: "boolean" },
    },
  });
  const t0 = Date.now();
  const dev = path.resolve(values.dev ?? repoRoot);
  if (!fs.existsSync(path.join(dev, "package.json"))) throw new Error(`${dev} is not an extension folder`);
  const main = JSON.parse(fs.readFileSync(path.join(dev, "package.json"), "utf8")).main as string | undefined;
  if (main && !fs.existsSync(path.join(dev, main)) && !fs.existsSync(path.join(dev, main + ".js"))) {
    throw new Error(`${path.join(dev, main)} is missing: run \`npm run build\` first`);
  }
  const tests = path.resolve(values.tests ?? (values["no-build"] ? path.join(repoRoot, "dist/test/integration.js") : await bundleIntegrationSuite()));
  const folder = path.resolve(values.folder ?? copyFixture("polyglot"));

  // A built VS Code takes extensionDevelopmentPath/extensionTestsPath from the URL's `payload` only when its
  // server runs with enable-smoke-test-driver; code-server passes that through with --vscode-option.
  const server = await startCodeServer({ vscodeOptions: ["enable-smoke-test-driver"] });
  const browser = await launchChromium();
  const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 300_000);
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const exitCode = new Promise<number>((resolve) => {
      // The workbench calls these when the test extension host logs and when it exits (smoke-test driver API).
      void page.exposeFunction("codeAutomationLog", (_type: string, args: unknown[]) => {
        const line = format(...(args ?? [])); // console.* arguments, printf-style format first
        if (process.env.VERBOSE || !NOISE.test(line)) console.log(line);
      });
      void page.exposeFunction("codeAutomationExit", (code: number) => resolve(code));
      setTimeout(() => {
        console.error(`integration tests did not finish within ${timeoutMs / 1000} s`);
        resolve(124);
      }, timeoutMs).unref();
    });
    const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    await page.goto(server.url(folder, [
      ["extensionDevelopmentPath", remote(dev)],
      ["extensionTestsPath", remote(tests)],
      ["skipWelcome", "true"],
    ]));
    const code = await exitCode;
    if (code !== 0) {
      fs.mkdirSync(screenshotsDir, { recursive: true });
      const shot = path.join(screenshotsDir, "integration-failure.png");
      await page.screenshot({ path: shot }).catch(() => undefined);
      console.error(`screenshot: ${path.relative(repoRoot, shot)}; logs: ${path.relative(repoRoot, server.saveLogs("integration"))}`);
      for (const line of server.extensionHostErrors().slice(0, 30)) console.error(`  exthost: ${line}`);
    }
    console.log(`${code === 0 ? "INTEGRATION TESTS PASSED" : `INTEGRATION TESTS FAILED (exit code ${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return code;
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
    if (!values.folder && !process.env.KEEP) fs.rmSync(path.dirname(folder), { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
