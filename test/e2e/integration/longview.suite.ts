// Runs inside a real VS Code extension host, with a copy of test/fixtures/polyglot as the workspace, against
// the API that Longview's activate() returns.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import nodePath from "node:path";
import { suite, suiteSetup, test } from "mocha";
import * as vscode from "vscode";
import { openAttentionBackend } from "../../../model-runtime/src/engine/attention-backend";
import { makeModelFolders } from "../lib/generated";

/** The extension's public API (activate()'s return value); lines are 0-based. */
interface LongviewApi {
  whenIdle(): Promise<void>;
  stats(): { files: number; definitions: number; imports: number; references: number; skipped: number };
  find(name: string): Array<{ root: string; path: string; definition: { name: string; kind: string; nameLine: number; doc?: string } }>;
  references(name: string): Array<{ root: string; path: string; line: number }>;
  model(): { phase: { kind: string; reason?: string }; status?: { contextTokens: number; prefilledTokens: number } };
}

const EXTENSION_ID = "longview.longview";
const CONTRACT_COMMANDS = [
  "longview.ask", "longview.explainSymbol", "longview.rebuildIndex", "longview.showIndexStatus",
  "longview.askAboutSelection", "longview.selectBackend", "longview.selectModel", "longview.clearChat",
];

/**
 * One definition per row, at least one per language; `at` is text on the line where the name is defined, so the
 * expected line comes from the fixture itself.
 */
const DEFINITIONS: Array<{ language: string; name: string; path: string; at: string; kinds: string[] }> = [
  { language: "TypeScript", name: "computeInvoiceTotal", path: "src/billing.ts", at: "export function computeInvoiceTotal", kinds: ["function"] },
  { language: "TypeScript", name: "InvoiceBuilder", path: "src/billing.ts", at: "export class InvoiceBuilder", kinds: ["class"] },
  { language: "TypeScript", name: "RateLimiter", path: "src/rateLimiter.ts", at: "export class RateLimiter", kinds: ["class"] },
  { language: "TypeScript", name: "tryAcquire", path: "src/rateLimiter.ts", at: "tryAcquire(): boolean", kinds: ["method"] },
  { language: "TypeScript", name: "LineItem", path: "src/types.ts", at: "export interface LineItem", kinds: ["interface"] },
  { language: "TypeScript", name: "CustomerId", path: "src/types.ts", at: "export type CustomerId", kinds: ["type"] },
  { language: "TypeScript", name: "CurrencyCode", path: "src/currency.ts", at: "export enum CurrencyCode", kinds: ["enum"] },
  { language: "TypeScript", name: "handleCreateInvoice", path: "src/api/invoiceRoutes.ts", at: "export function handleCreateInvoice", kinds: ["function"] },
  { language: "TSX", name: "InvoiceSummary", path: "web/InvoiceSummary.tsx", at: "export function InvoiceSummary", kinds: ["function"] },
  { language: "TSX", name: "CustomerBadge", path: "web/CustomerBadge.tsx", at: "export function CustomerBadge", kinds: ["function"] },
  { language: "JavaScript", name: "createSampleInvoice", path: "tools/invoiceFactory.js", at: "function createSampleInvoice", kinds: ["function"] },
  { language: "JavaScript", name: "seedInvoices", path: "tools/seedInvoices.js", at: "function seedInvoices", kinds: ["function"] },
  { language: "Python", name: "parse_config", path: "reports/config.py", at: "def parse_config", kinds: ["function"] },
  { language: "Python", name: "ReportConfig", path: "reports/config.py", at: "class ReportConfig", kinds: ["class"] },
  { language: "Python", name: "MonthlyRevenueReport", path: "reports/monthly_report.py", at: "class MonthlyRevenueReport", kinds: ["class"] },
  { language: "Python", name: "add_entry", path: "reports/monthly_report.py", at: "def add_entry", kinds: ["method", "function"] },
  { language: "Go", name: "NewLedger", path: "services/ledger/ledger.go", at: "func NewLedger", kinds: ["function"] },
  { language: "Go", name: "PostEntry", path: "services/ledger/ledger.go", at: "func (l *Ledger) PostEntry", kinds: ["method"] },
  { language: "Go", name: "LedgerEntry", path: "services/ledger/ledger.go", at: "type LedgerEntry struct", kinds: ["class", "type"] },
  { language: "Go", name: "ReconcileLedger", path: "services/ledger/reconcile.go", at: "func ReconcileLedger", kinds: ["function"] },
  { language: "Rust", name: "FraudScore", path: "crates/fraud/src/scoring.rs", at: "pub struct FraudScore", kinds: ["class", "type"] },
  { language: "Rust", name: "score_transaction", path: "crates/fraud/src/scoring.rs", at: "pub fn score_transaction", kinds: ["function"] },
  { language: "Rust", name: "RiskSignal", path: "crates/fraud/src/scoring.rs", at: "pub trait RiskSignal", kinds: ["interface", "type", "class"] },
  { language: "Rust", name: "is_blocked", path: "crates/fraud/src/scoring.rs", at: "pub fn is_blocked", kinds: ["method", "function"] },
  { language: "Java", name: "PaymentGateway", path: "android/src/main/java/com/example/polyglot/PaymentGateway.java", at: "public class PaymentGateway", kinds: ["class"] },
  { language: "Java", name: "chargeCard", path: "android/src/main/java/com/example/polyglot/PaymentGateway.java", at: "public Receipt chargeCard", kinds: ["method"] },
  { language: "Java", name: "Receipt", path: "android/src/main/java/com/example/polyglot/Receipt.java", at: "public final class Receipt", kinds: ["class"] },
  { language: "C", name: "crc32_checksum", path: "native/checksum.c", at: "uint32_t crc32_checksum(", kinds: ["function"] },
  { language: "C", name: "CHECKSUM_SEED", path: "native/checksum.h", at: "#define CHECKSUM_SEED", kinds: ["macro"] },
  { language: "C++", name: "ByteCompressor", path: "native/compressor.hpp", at: "class ByteCompressor", kinds: ["class"] },
  { language: "C++", name: "compress", path: "native/compressor.cpp", at: "ByteCompressor::compress(", kinds: ["method", "function"] },
];

/** Files the workspace holds that no index may contain (gitignored, *.log, node_modules), and a name in each. */
const EXCLUDED = [
  { path: "generated/invoice_pb.ts", name: "generatedInvoiceStubMustNotBeIndexed" },
  { path: "generated/invoice_pb.ts", name: "GeneratedInvoiceMessageMustNotBeIndexed" },
  { path: "node_modules/left-pad/index.js", name: "vendoredLeftPadMustNotBeIndexed" },
  { path: "ledgerd.log", name: "ignoredLogLineMustNotBeIndexed" },
];

/** Uses of definitions from other files: [name, using file, text on the using line]. */
const USES: Array<[string, string, string]> = [
  ["computeInvoiceTotal", "src/api/invoiceRoutes.ts", "totalCents: computeInvoiceTotal("],
  ["computeInvoiceTotal", "web/InvoiceSummary.tsx", "const total = computeInvoiceTotal("],
  ["RateLimiter", "src/api/invoiceRoutes.ts", "new RateLimiter("],
  ["createSampleInvoice", "tools/seedInvoices.js", "write(JSON.stringify(createSampleInvoice("],
  ["parse_config", "reports/monthly_report.py", "MonthlyRevenueReport(parse_config("],
  ["NewLedger", "cmd/ledgerd/main.go", "ledger.NewLedger()"],
  ["crc32_checksum", "native/compressor.cpp", "crc32_checksum(input.data()"],
];

const CODE_FILE = /\.(ts|tsx|js|py|go|rs|java|c|h|cpp|hpp)$/;

let api: LongviewApi;
let folder: vscode.WorkspaceFolder;

function uri(rel: string): vscode.Uri {
  return vscode.Uri.joinPath(folder.uri, rel);
}

async function lineOf(rel: string, needle: string): Promise<number> {
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri(rel)));
  const line = text.split("\n").findIndex((l) => l.includes(needle));
  assert.ok(line >= 0, `fixture ${rel} has no line containing ${JSON.stringify(needle)}`);
  return line;
}

/** Waits until the index answers as `check` expects (the index updates asynchronously after a change). */
async function eventually(what: string, check: () => void, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await api.whenIdle();
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`${what}: still failing after ${timeoutMs / 1000} s: ${(error as Error).message}`);
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function listFiles(dir: vscode.Uri, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const [name, type] of await vscode.workspace.fs.readDirectory(dir)) {
    const rel = prefix + name;
    if (type === vscode.FileType.Directory) out.push(...(await listFiles(vscode.Uri.joinPath(dir, name), rel + "/")));
    else if (type === vscode.FileType.File) out.push(rel);
  }
  return out;
}

suite("Longview in the extension host", () => {
  suiteSetup(async function () {
    this.timeout(180_000);
    folder = vscode.workspace.workspaceFolders?.[0] as vscode.WorkspaceFolder;
    assert.ok(folder, "the test run must open the polyglot fixture as a workspace folder");
    const extension = vscode.extensions.getExtension<LongviewApi>(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is not installed in the extension host`);
    api = await extension.activate();
    assert.ok(extension.isActive, "extension did not activate");
    assert.ok(api && typeof api.whenIdle === "function", "activate() must return the API object (whenIdle, stats, find, references)");
    await api.whenIdle();
  });

  test("activate() returns the API: whenIdle, stats, find, references", () => {
    for (const key of ["whenIdle", "stats", "find", "references"] as const) {
      assert.equal(typeof api[key], "function", `api.${key} is not a function`);
    }
  });

  test("package.json contributes the contract's commands, the Longview container and the Chat webview", () => {
    const contributes = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes ?? {};
    const commands = (contributes.commands ?? []).map((c: { command: string }) => c.command);
    for (const id of CONTRACT_COMMANDS) assert.ok(commands.includes(id), `command ${id} is not contributed`);
    const containers: Array<{ id: string; title: string }> = contributes.viewsContainers?.activitybar ?? [];
    const container = containers.find((c) => c.title === "Longview");
    assert.ok(container, `no activity-bar container titled "Longview" (got ${JSON.stringify(containers)})`);
    const views: Array<{ id: string; type?: string }> = contributes.views?.[container.id] ?? [];
    assert.ok(views.some((v) => v.id === "longview.chat" && v.type === "webview"), `container ${container.id} lacks webview view longview.chat`);
  });

  test("after the index the model is opened: ready with the bundled model, else unavailable saying why", async function () {
    this.timeout(180_000);
    const root = vscode.extensions.getExtension(EXTENSION_ID)!.extensionUri.fsPath;
    const bundled = fs.existsSync(nodePath.join(root, "dist/assets/model/config.json"));
    const deadline = Date.now() + 170_000;
    let model = api.model();
    while (!["ready", "unavailable"].includes(model.phase.kind) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      model = api.model();
    }
    if (bundled) {
      assert.equal(model.phase.kind, "ready", JSON.stringify(model.phase));
      assert.ok(model.status && model.status.contextTokens > 0 && model.status.prefilledTokens === model.status.contextTokens, JSON.stringify(model.status));
    } else {
      assert.equal(model.phase.kind, "unavailable", JSON.stringify(model.phase));
      assert.match(model.phase.reason ?? "", /no model found/);
    }
  });

  test("every contributed command is registered", async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    const contributed: string[] = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes?.commands ?? []).map(
      (c: { command: string }) => c.command,
    );
    assert.ok(contributed.length >= CONTRACT_COMMANDS.length);
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(", ")}`);
  });

  for (const def of DEFINITIONS) {
    test(`${def.language}: finds ${def.name} in ${def.path}`, async () => {
      const expectedLine = await lineOf(def.path, def.at);
      const hits = api.find(def.name);
      const here = hits.filter((h) => h.path === def.path);
      assert.ok(here.length > 0, `find(${def.name}) has no hit in ${def.path}; got ${JSON.stringify(hits.map((h) => `${h.path}:${h.definition.nameLine}`))}`);
      const hit = here.find((h) => h.definition.nameLine === expectedLine);
      assert.ok(hit, `find(${def.name}) in ${def.path}: expected nameLine ${expectedLine}, got ${here.map((h) => h.definition.nameLine).join(", ")}`);
      assert.equal(hit.root, folder.name);
      assert.equal(hit.definition.name, def.name);
      assert.ok(def.kinds.includes(hit.definition.kind), `${def.name}: kind ${hit.definition.kind}, expected one of ${def.kinds.join("/")}`);
    });
  }

  test("doc comments are attached to their definitions", () => {
    const doc = (name: string) => api.find(name)[0]?.definition.doc;
    if (doc("computeInvoiceTotal") === undefined) return; // doc is optional in the API contract
    assert.match(doc("computeInvoiceTotal") ?? "", /sum of every line item/);
    assert.match(doc("parse_config") ?? "", /Reads a reports\.toml file/);
    assert.match(doc("FraudScore") ?? "", /How risky a transaction looks/);
  });

  test("references point at the lines that use a definition, across files", async () => {
    for (const [name, path, at] of USES) {
      const line = await lineOf(path, at);
      const refs = api.references(name);
      assert.ok(
        refs.some((r) => r.path === path && r.line === line && r.root === folder.name),
        `references(${name}) lacks ${path}:${line}; got ${JSON.stringify(refs.map((r) => `${r.path}:${r.line}`))}`,
      );
    }
  });

  test("gitignored, *.log and node_modules files are not indexed", async () => {
    for (const { path, name } of EXCLUDED) {
      await vscode.workspace.fs.stat(uri(path)); // the workspace does hold it: a missing file would prove nothing
      assert.deepEqual(api.find(name), [], `${name} from ${path} was indexed`);
      assert.deepEqual(api.references(name), [], `${name} from ${path} has references in the index`);
    }
    const leaked = DEFINITIONS.flatMap((d) => api.find(d.name)).filter((h) => /^(generated|node_modules)\//.test(h.path));
    assert.deepEqual(leaked, []);
  });

  test("stats() counts the fixture", async () => {
    const all = await listFiles(folder.uri);
    const ignored = (p: string) => /^(generated|node_modules|\.longview|\.git)\//.test(p) || p.endsWith(".log");
    const indexable = all.filter((p) => !ignored(p));
    const code = indexable.filter((p) => CODE_FILE.test(p));
    const stats = api.stats();
    assert.ok(stats.files >= code.length && stats.files <= indexable.length,
      `stats().files = ${stats.files}, expected between ${code.length} (code files) and ${indexable.length} (files not ignored)`);
    assert.ok(stats.definitions >= DEFINITIONS.length, `stats().definitions = ${stats.definitions} < ${DEFINITIONS.length}`);
    assert.ok(stats.imports >= USES.length, `stats().imports = ${stats.imports}`);
    assert.ok(stats.references > 0, "stats().references = 0");
    assert.equal(typeof stats.skipped, "number");
  });

  test("an edit saved through a WorkspaceEdit updates find()", async function () {
    this.timeout(90_000);
    const path = "src/currency.ts";
    const document = await vscode.workspace.openTextDocument(uri(path));
    await vscode.window.showTextDocument(document);
    const added = "export function integrationAddedHelper(): number {\n  return 42;\n}\n";
    const end = document.lineAt(document.lineCount - 1).range.end;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(document.uri, end, "\n" + added);
    assert.ok(await vscode.workspace.applyEdit(edit), "applyEdit failed");
    assert.ok(await document.save(), "save failed");
    const line = await lineOf(path, "export function integrationAddedHelper");
    await eventually("find(integrationAddedHelper) after save", () => {
      const hits = api.find("integrationAddedHelper");
      assert.deepEqual(hits.map((h) => [h.path, h.definition.nameLine]), [[path, line]]);
    });

    const rename = new vscode.WorkspaceEdit();
    const at = document.getText().indexOf("integrationAddedHelper");
    rename.replace(document.uri, new vscode.Range(document.positionAt(at), document.positionAt(at + "integrationAddedHelper".length)), "integrationRenamedHelper");
    assert.ok(await vscode.workspace.applyEdit(rename));
    assert.ok(await document.save());
    await eventually("find() after renaming the function and saving", () => {
      assert.deepEqual(api.find("integrationAddedHelper"), [], "the old name is still indexed");
      assert.deepEqual(api.find("integrationRenamedHelper").map((h) => [h.path, h.definition.nameLine]), [[path, line]]);
    });
    // The rest of the file is still indexed after the edit.
    assert.ok(api.find("formatCurrency").some((h) => h.path === path));
  });

  test("a file created on disk is indexed, and forgotten when deleted", async function () {
    this.timeout(90_000);
    const path = "src/lateArrival.ts";
    await vscode.workspace.fs.writeFile(uri(path), new TextEncoder().encode('import { RateLimiter } from "./rateLimiter";\n\nexport class LateArrivalWidget {\n  limiter = new RateLimiter(1, 1);\n}\n'));
    const line = await lineOf(path, "export class LateArrivalWidget");
    await eventually("find(LateArrivalWidget) after creating the file", () => {
      assert.deepEqual(api.find("LateArrivalWidget").map((h) => [h.path, h.definition.nameLine]), [[path, line]]);
    });
    await vscode.workspace.fs.delete(uri(path));
    await eventually("find(LateArrivalWidget) after deleting the file", () => {
      assert.deepEqual(api.find("LateArrivalWidget"), []);
      assert.ok(!api.references("RateLimiter").some((r) => r.path === path), "references of a deleted file remain");
    });
  });

  test("Select Backend writes longview.backend and reports exactly what openAttentionBackend reports", async function () {
    this.timeout(60_000);
    const config = () => vscode.workspace.getConfiguration("longview");
    try {
      for (const preference of ["cpu", "cuda"] as const) {
        const selected = (await vscode.commands.executeCommand("longview.selectBackend", preference)) as {
          preference: string; kind: string; name: string; notices: string[]; allowNative: boolean;
        };
        assert.equal(config().get("backend"), preference, "the setting is written");
        const direct = await openAttentionBackend(preference, { allowNative: vscode.workspace.isTrusted });
        try {
          assert.deepEqual(
            { kind: selected.kind, name: selected.name, notices: selected.notices, allowNative: selected.allowNative },
            { kind: direct.kind, name: direct.backend.name, notices: direct.notices, allowNative: vscode.workspace.isTrusted },
          );
        } finally {
          direct.backend.dispose?.();
        }
      }
    } finally {
      await config().update("backend", undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test("Select Model refuses a folder without config.json + weights and writes a model folder", async () => {
    const config = () => vscode.workspace.getConfiguration("longview");
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "longview-model-"));
    try {
      const empty = nodePath.join(dir, "empty");
      fs.mkdirSync(empty);
      const refused = (await vscode.commands.executeCommand("longview.selectModel", empty)) as { modelPath?: string; check: { ok: boolean; problems: string[] } };
      assert.equal(refused.check.ok, false);
      assert.deepEqual(refused.check.problems, ["no config.json", "no weights (model.safetensors)"]);
      assert.equal(refused.modelPath, undefined);
      assert.equal(config().get("modelPath"), "", "a refused folder is not written");

      const { valid: model } = makeModelFolders(dir);
      const accepted = (await vscode.commands.executeCommand("longview.selectModel", vscode.Uri.file(model))) as { modelPath?: string; check: { ok: boolean } };
      assert.equal(accepted.check.ok, true);
      assert.equal(config().get("modelPath"), model);
    } finally {
      await config().update("modelPath", undefined, vscode.ConfigurationTarget.Global);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
