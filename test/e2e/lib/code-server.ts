// Starts and stops a throw-away code-server (VS Code's server + web workbench, the same extension host as the
// desktop app) on 127.0.0.1, with fresh user-data and extensions folders, and launches Debian's Chromium for it.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { chromiumPath, codeServerEntry, logsDir, node24 } from "./paths";

/**
 * User settings of every test run: nothing online, nothing that pops up over the workbench, and an editor that
 * types exactly the keys a test sends (no auto-closing brackets, no suggestions accepted by Enter).
 */
const SETTINGS = {
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "workbench.enableExperiments": false,
  "workbench.tips.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true,
  "security.workspace.trust.enabled": false,
  "git.enabled": false,
  "editor.autoClosingBrackets": "never",
  "editor.autoClosingQuotes": "never",
  "editor.autoSurround": "never",
  "editor.autoIndent": "none",
  "editor.formatOnType": false,
  "editor.quickSuggestions": { other: false, comments: false, strings: false },
  "editor.suggestOnTriggerCharacters": false,
  "editor.acceptSuggestionOnEnter": "off",
  "editor.parameterHints.enabled": false,
  "editor.hover.delay": 300,
  "files.autoSave": "off",
};

export interface CodeServer {
  origin: string;
  port: number;
  /** Temporary folder with user data, extensions, logs. */
  dir: string;
  /** URL that opens `folder` in the workbench. */
  url(folder: string, payload?: Array<[string, string]>): string;
  /** URL that opens a multi-root workspace (a .code-workspace file). */
  workspaceUrl(file: string): string;
  /** Copies code-server's and the extension host's logs to test-results/logs/<name>/ and returns that folder. */
  saveLogs(name: string): string;
  /** Lines of the extension host logs that mention errors. */
  extensionHostErrors(): string[];
  /**
   * What an extension's output channel holds so far, read from the log file VS Code writes for it ("" before it
   * exists): the Output view renders only the lines in sight.
   */
  outputChannel(name: string): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** VSIX files to install before the server starts. */
  vsix?: string[];
  /** Options of VS Code's server passed through code-server's --vscode-option. */
  vscodeOptions?: string[];
  env?: NodeJS.ProcessEnv;
  /** Options for code-server's Node (and so for the extension host it forks), e.g. ["--require", preload]. */
  nodeArgs?: string[];
  /**
   * Keep VS Code's workspace trust on (default off): a folder then opens in Restricted Mode until trusted. The
   * start-up prompt is off too, so nothing modal covers the workbench.
   */
  workspaceTrust?: boolean;
  /** More user settings (e.g. the model folder), over the defaults above. */
  settings?: Record<string, unknown>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function checkInstalled(): void {
  for (const file of [node24, codeServerEntry]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`bash scripts/setup-vscode.sh\` first`);
  }
}

export async function startCodeServer(options: StartOptions = {}): Promise<CodeServer> {
  checkInstalled();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "longview-cs-"));
  // XDG_* inside the run's folder: code-server writes config and state there, never into ~/.config.
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(dir, "xdg"),
    XDG_DATA_HOME: path.join(dir, "xdg"),
    XDG_CACHE_HOME: path.join(dir, "xdg"),
    ...options.env,
  };
  fs.mkdirSync(path.join(dir, "data/User"), { recursive: true });
  const settings = {
    ...(options.workspaceTrust
      ? { ...SETTINGS, "security.workspace.trust.enabled": true, "security.workspace.trust.startupPrompt": "never", "security.workspace.trust.banner": "always" }
      : SETTINGS),
    ...options.settings,
  };
  fs.writeFileSync(path.join(dir, "data/User/settings.json"), JSON.stringify(settings, null, 2));
  const common = ["--config", "/dev/null", "--user-data-dir", path.join(dir, "data"), "--extensions-dir", path.join(dir, "extensions")];

  for (const vsix of options.vsix ?? []) {
    if (!fs.existsSync(vsix)) throw new Error(`${vsix} is missing: run \`npm run package\` first`);
    const { stdout, stderr } = await promisify(execFile)(node24, [codeServerEntry, ...common, "--install-extension", path.resolve(vsix)], { env });
    if (!/successfully installed/i.test(stdout + stderr)) throw new Error(`installing ${vsix} failed:\n${stdout}${stderr}`);
  }

  const port = await freePort();
  const server = spawn(
    node24,
    [
      ...(options.nodeArgs ?? []),
      codeServerEntry, ...common,
      "--auth", "none", "--bind-addr", `127.0.0.1:${port}`,
      "--disable-telemetry", "--disable-update-check", ...(options.workspaceTrust ? [] : ["--disable-workspace-trust"]),
      "--disable-getting-started-override", "--ignore-last-opened",
      ...(options.vscodeOptions ?? []).flatMap((o) => ["--vscode-option", o]),
    ],
    // Its own process group: the extension hosts and other helpers it forks outlive its main process unless the
    // whole group is signalled (one kept appending to a log while the suite deleted the folder).
    { env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  const group = server.pid!;
  const signalGroup = (signal: NodeJS.Signals | 0) => {
    try {
      process.kill(-group, signal);
      return true;
    } catch {
      return false; // ESRCH: nothing left in the group
    }
  };
  // A detached group no longer dies with the test runner: take it down if the runner exits first.
  const killOnExit = () => signalGroup("SIGKILL");
  process.once("exit", killOnExit);
  const serverLog = fs.createWriteStream(path.join(dir, "server.log"));
  server.stdout.pipe(serverLog);
  server.stderr.pipe(serverLog);
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));

  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await healthy(origin))) {
    if (server.exitCode !== null) throw new Error(`code-server exited (${server.exitCode}), see ${dir}/server.log`);
    if (Date.now() > deadline) throw new Error(`code-server did not answer within 60 s, see ${dir}/server.log`);
    await new Promise((r) => setTimeout(r, 250));
  }

  const logFiles = () => listFiles(path.join(dir, "data/logs")).concat(path.join(dir, "server.log"));
  return {
    origin,
    port,
    dir,
    url(folder, payload) {
      let url = `${origin}/?folder=${encodeURIComponent(folder)}`;
      if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
      return url;
    },
    workspaceUrl(file) {
      return `${origin}/?workspace=${encodeURIComponent(file)}`;
    },
    saveLogs(name) {
      const target = path.join(logsDir, name);
      fs.rmSync(target, { recursive: true, force: true });
      for (const file of logFiles().filter((f) => fs.existsSync(f))) {
        const rel = path.relative(dir, file).replace(/^data\/logs\/[^/]+\//, "");
        fs.mkdirSync(path.dirname(path.join(target, rel)), { recursive: true });
        fs.copyFileSync(file, path.join(target, rel));
      }
      return target;
    },
    extensionHostErrors() {
      return logFiles()
        .filter((f) => /exthost|server\.log/i.test(f) && fs.existsSync(f))
        .flatMap((f) => fs.readFileSync(f, "utf8").split("\n"))
        .filter((l) => /\[error\]|Activating extension .* failed/i.test(l) && !/ENOTFOUND|open-vsx|marketplace/i.test(l));
    },
    outputChannel(name) {
      const suffix = new RegExp(`[/\\\\]output_logging_[^/\\\\]+[/\\\\]\\d+-${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.log$`);
      const files = logFiles().filter((f) => suffix.test(f) && fs.existsSync(f));
      files.sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
      return files.length ? fs.readFileSync(files[files.length - 1], "utf8") : "";
    },
    async stop() {
      // The whole group, then wait until none of it is left (SIGKILL after 5 s), so nothing writes into `dir` after.
      const groupGone = async (ms: number) => {
        const deadline = Date.now() + ms;
        while (signalGroup(0)) {
          if (Date.now() > deadline) return false;
          await new Promise((r) => setTimeout(r, 100));
        }
        return true;
      };
      signalGroup("SIGTERM");
      if (!(await groupGone(5_000))) {
        signalGroup("SIGKILL");
        await groupGone(2_000);
      }
      await exited;
      process.removeListener("exit", killOnExit);
      if (!process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }); // late writers: see teardown.ts
      else console.log(`KEEP: code-server folder left at ${dir}`);
    },
  };
}

function healthy(origin: string): Promise<boolean> {
  return new Promise((resolve) => {
    http
      .get(`${origin}/healthz`, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      })
      .on("error", () => resolve(false));
  });
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** Debian's Chromium, headless; playwright adds a fresh --user-data-dir. */
export function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run \`bash scripts/setup.sh\` (apt chromium)`);
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
