import assert from "node:assert/strict";
import { after, test } from "node:test";
import { answerFromIndex, candidateSymbols, explainSymbol } from "../../model-runtime/src/answer/index-answer";
import { Indexer } from "../../model-runtime/src/index/indexer";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import { indexFolder, makeTree, removeTree } from "../helpers/tmp-tree";

const dir = makeTree({
  "src/billing.ts": [
    'import { rate } from "./rates";',
    "/** Sum of line items, with tax. */",
    "export function computeInvoiceTotal(items: number[]): number {",
    "  return items.reduce((a, b) => a + b, 0) * rate();",
    "}",
  ].join("\n"),
  "src/rates.ts": "export function rate(): number {\n  return 1.2;\n}\n",
  "src/ledger.ts": "export class Ledger {\n  post(x: number) {}\n  balance(): number { return 0; }\n}\n",
  "app/main.py": "from src import billing\n\ndef run_report():\n    return computeInvoiceTotal([1])\n",
});
after(() => removeTree(dir));

const indexed = () => indexFolder(dir);

test("candidate symbols: quoted and code-like words first, stop words dropped", () => {
  assert.deepEqual(candidateSymbols("where is `parse_config` defined?").slice(0, 1), ["parse_config"]);
  const c = candidateSymbols("How does the RateLimiter refill its tokens?");
  assert.equal(c[0], "RateLimiter");
  assert.ok(c.includes("refill") && !c.includes("the") && !c.includes("does"));
  assert.ok(candidateSymbols("what calls Ledger.post?").includes("Ledger.post"));
});

test("a name spelled as words finds its definition: 'compute invoice total' → computeInvoiceTotal, 'run report' → run_report", async () => {
  const index = await indexed();
  // "compute invoice total" is computeInvoiceTotal, case-insensitively, joined.
  const a = answerFromIndex(index, "where do we compute invoice total?");
  assert.ok(a.markdown.startsWith("### `computeInvoiceTotal`"), a.markdown);
  assert.deepEqual(a.citations[0], { root: "ws", path: "src/billing.ts", line: 3, endLine: 5 });
  // snake_case definitions too ("run report" → run_report), across a stop word's boundary only.
  const b = answerFromIndex(index, "what does run report do?");
  assert.ok(b.markdown.startsWith("### `run_report`"), b.markdown);
  // Words split by a stop word are not one name (the full-text search may still find it, as a match, not by name).
  assert.ok(!answerFromIndex(index, "run the report").markdown.startsWith("### `run_report`"));
  // Joined words are lookups, not suggestions: a question naming nothing lists no made-up names.
  assert.ok(!candidateSymbols("where is the workspace index stored?").some((c) => c === "workspaceindex" || c === "workspace_index"));
});

test("an answer cites the definition line and every use, and lists the files it drew on", async () => {
  const index = await indexed();
  const a = answerFromIndex(index, "Where is computeInvoiceTotal defined and who uses it?");
  assert.deepEqual(a.symbols, ["computeInvoiceTotal"]);
  assert.deepEqual(a.citations[0], { root: "ws", path: "src/billing.ts", line: 3, endLine: 5 });
  assert.ok(a.markdown.includes("src/billing.ts:3"));
  assert.ok(a.markdown.includes("Sum of line items, with tax."));
  assert.ok(a.citations.some((c) => c.path === "app/main.py" && c.line === 4), "the Python use is cited");
  assert.deepEqual(a.files.map((f) => f.path).sort(), ["app/main.py", "src/billing.ts", "src/rates.ts"], "definition, uses and what it uses");
  for (const c of a.citations) assert.ok(a.markdown.includes(`${c.path}:${c.line}`), `citation ${c.path}:${c.line} appears in the text`);
});

test("a function's answer lists what it uses, resolved to their definitions", async () => {
  const index = await indexed();
  const a = explainSymbol(index, "computeInvoiceTotal");
  assert.match(a.markdown, /\*\*Uses:\*\* `rate` src\/rates.ts:1/);
  const callees = index.callees("ws", "src/billing.ts", index.find("computeInvoiceTotal")[0].definition);
  assert.deepEqual(callees.map((c) => c.definition.name), ["rate"]);
});

test("a class's answer outlines its members with citations", async () => {
  const index = await indexed();
  const a = explainSymbol(index, "Ledger");
  assert.match(a.markdown, /\*\*Members:\*\* `post` src\/ledger.ts:2, `balance` src\/ledger.ts:3/);
  assert.ok(a.citations.some((c) => c.path === "src/ledger.ts" && c.line === 3));
});

test("a question in words finds the definition through its name words and doc comment", async () => {
  const index = await indexed();
  const a = answerFromIndex(index, "how is the sum of line items with tax computed?");
  assert.equal(a.symbols[0], "computeInvoiceTotal");
  assert.deepEqual(a.citations[0], { root: "ws", path: "src/billing.ts", line: 3, endLine: 5 });
  const b = answerFromIndex(index, "what is the ledger balance?");
  assert.ok(b.symbols.includes("balance") || b.symbols.includes("Ledger"), b.markdown);
});

test("a near-miss name finds the real definition; a question matching nothing says so and cites nothing", async () => {
  const index = await indexed();
  const a = answerFromIndex(index, "where is computeInvoice handled?");
  assert.ok(a.symbols.includes("computeInvoiceTotal"), a.markdown);
  assert.ok(a.citations.every((c) => index.get(c.root, c.path)), "every citation is a real indexed file");
  const none = answerFromIndex(index, "where is the frobnicator quux?");
  assert.equal(none.citations.length, 0);
  assert.match(none.markdown, /No definition in the index matches/);
  const e = explainSymbol(index, "rate");
  assert.equal(e.symbols[0], "rate");
  assert.equal(e.citations[0].path, "src/rates.ts");
});

test("the full-text search follows index updates file by file", async () => {
  const { DefinitionSearch, splitIdentifier, stem } = await import("../../model-runtime/src/answer/definition-search");
  assert.deepEqual(["store", "stored", "stores", "storing"].map(stem), ["stor", "stor", "stor", "stor"]);
  assert.deepEqual(["class", "index", "indexes"].map(stem), ["class", "index", "index"]);
  const { isTestCode } = await import("../../model-runtime/src/index/code-places");
  assert.ok(isTestCode("net/http/serve_test.go", "x") && isTestCode("src/a.test.ts", "x") && isTestCode("tests/test_io.py", "x"));
  assert.ok(isTestCode("pkg/io.go", "TestReadFull") && !isTestCode("src/testing_utils_impl.ts", "attest"));
  assert.ok(isTestCode("lib/money_test.rb", "x") && isTestCode("app/models/user_spec.rb", "x") && isTestCode("src/Billing.UnitTests/Invoice.cs", "x"));
  assert.ok(isTestCode("src/InvoiceTest.php", "x") && isTestCode("Billing/InvoiceTests.cs", "x") && !isTestCode("src/Billing.Core/Contest.cs", "x"));
  assert.equal(splitIdentifier("computeInvoiceTotal"), "compute Invoice Total");
  assert.equal(splitIdentifier("HTTPServer_start"), "HTTP Server start");
  // Abbreviations in names and irregular verbs in questions meet the words people use.
  const c = makeTree({
    // Without the normal forms the shorter decoy wins each question on its one shared word.
    "limit.c": "int ngx_limit(void *r) { return 0; }\nint ngx_http_limit_req_handler(void *r) { return 0; }\n",
    "log.c": "int ngx_log(void *r) { return 0; }\nint ngx_http_log_write(void *r) { return 0; }\n",
  });
  const cx = new Indexer({ roots: [{ name: "c", path: c }], threads: 0 });
  await cx.build();
  const cs = new DefinitionSearch(cx.index);
  assert.equal(cs.query("how are requests limited?")[0]?.definition.name, "ngx_http_limit_req_handler");
  assert.equal(cs.query("where is the log line written?")[0]?.definition.name, "ngx_http_log_write");
  // Words that name Object.prototype's members are words like any other (a lookup table once returned a function).
  assert.deepEqual(cs.query("constructor toString __proto__ hasOwnProperty valueOf"), []);
  cs.dispose();
  await cx.dispose();
  removeTree(c);
  const local = makeTree({ "a.ts": "/** Sends reminder emails. */\nexport function notifyLatePayers() {}\n" });
  const ix = new Indexer({ roots: [{ name: "ws", path: local }], threads: 0 });
  await ix.build();
  const search = new DefinitionSearch(ix.index);
  assert.equal(search.query("reminder emails")[0]?.definition.name, "notifyLatePayers");
  const fs = await import("node:fs");
  const file = `${local}/a.ts`;
  fs.writeFileSync(file, "/** Archives paid invoices. */\nexport function archiveInvoices() {}\n");
  fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
  await ix.update([file]);
  assert.equal(search.query("reminder emails").length, 0, "the removed definition is gone");
  assert.equal(search.query("archive paid invoices")[0]?.definition.name, "archiveInvoices");
  search.dispose();
  await ix.dispose();
  removeTree(local);
});

test("the full-text search reads a definition's own lines: undocumented code is found by what it does; examples rank below the library", async () => {
  const { DefinitionSearch, bodyWords } = await import("../../model-runtime/src/answer/definition-search");
  const { isExampleCode } = await import("../../model-runtime/src/index/code-places");
  assert.ok(isExampleCode("examples/auth/index.js") && isExampleCode("docs/samples/a.py") && !isExampleCode("lib/example_parser.js"));
  assert.ok(isExampleCode("benchmarks/routers-deno/src/tool.mts") && isExampleCode("bench/run.ts") && !isExampleCode("src/benchmark.ts"));
  const dir = makeTree({
    // Neither name says "rate" or "excess": only the first function's body does (an identifier and a log string).
    "zone.c": [
      "int ngx_zone_check(ngx_zone_t *z) {",
      "    if (z->excess > z->rate) {",
      '        log_error("limiting requests, excess %d", z->excess);',
      "        return 503;",
      "    }",
      "    return 0;",
      "}",
      "int ngx_zone_init(ngx_zone_t *z) {",
      "    return z->size * 2;",
      "}",
      "",
    ].join("\n"),
    "lib/view.js": "function render(name) {\n  return lookupTemplate(name);\n}\nmodule.exports = render;\n",
    "examples/site/view.js": "function render(name) {\n  return lookupTemplate(name);\n}\nmodule.exports = render;\n",
    "nested.py": "class Store:\n    capacity = 10\n\n    def evict(self):\n        return self.oldest_entry()\n",
  });
  const ix = new Indexer({ roots: [{ name: "ws", path: dir }], threads: 0 });
  await ix.build();
  const search = new DefinitionSearch(ix.index);
  assert.equal(search.query("where is the excess rate of requests limited?")[0]?.definition.name, "ngx_zone_check");
  const [first, second] = search.query("how does render look up the template?");
  assert.deepEqual([first?.path, second?.path], ["lib/view.js", "examples/site/view.js"]);
  // A class keeps its own lines' words; its method's lines belong to the method.
  const rec = ix.index.get("ws", "nested.py")!;
  const words = bodyWords(rec);
  const of = (name: string) => words[rec.definitions.findIndex((d) => d.name === name)];
  assert.ok(of("Store").includes("capacity") && !of("Store").includes("oldest_entry"), of("Store").join(" "));
  assert.ok(of("evict").includes("oldest_entry"), of("evict").join(" "));
  search.dispose();
  await ix.dispose();
  removeTree(dir);
});

test("the search reads 'suggest' in suggestions and no pronoun 'one' in a question (cobra's mistyped-command question)", async () => {
  const { DefinitionSearch, stem } = await import("../../model-runtime/src/answer/definition-search");
  assert.deepEqual(["suggestions", "suggestion", "suggest", "connection", "lion"].map(stem), ["suggest", "suggest", "suggest", "connect", "lion"]);
  const dir = makeTree({
    "flag_groups.go": "package cobra\n\n// MarkFlagsOneRequired marks flags so that at least one of them is required.\nfunc (c *Command) MarkFlagsOneRequired(flagNames ...string) {\n}\n",
    "command.go": "package cobra\n\n// SuggestionsFor provides suggestions for the typedName.\nfunc (c *Command) SuggestionsFor(typedName string) []string {\n\treturn nil\n}\n",
  });
  const ix = new Indexer({ roots: [{ name: "ws", path: dir }], threads: 0 });
  await ix.build();
  const search = new DefinitionSearch(ix.index);
  assert.equal(search.query("how does cobra suggest commands when one is mistyped?")[0]?.definition.name, "SuggestionsFor");
  // A name holding the pronoun is still found by its other words.
  assert.equal(search.query("which flags are marked one required?")[0]?.definition.name, "MarkFlagsOneRequired");
  search.dispose();
  await ix.dispose();
  removeTree(dir);
});

test("of a name defined for several operating systems, the code for this platform is listed and cited first", async () => {
  const { osOfPath, platformRank, thisPlatformFirst } = await import("../../model-runtime/src/index/code-places");
  assert.deepEqual(["src/os/win32/cycle.c", "src/os/unix/cycle.c", "os/file_windows.go", "syscall/zerrors_linux_amd64.go", "os/file_darwin.go", "src/window.ts", "lib/posixpath.py"].map(osOfPath), ["windows", "unix", "windows", "linux", "darwin", undefined, undefined]);
  assert.deepEqual(["src/os/win32/cycle.c", "src/os/unix/cycle.c", "os/file_darwin.go", "src/cycle.c"].map((p) => platformRank(p, "linux")), [1, 0, 1, 0]);
  assert.deepEqual(["src/os/win32/cycle.c", "src/os/unix/cycle.c", "os/file_darwin.go", "src/cycle.c"].map((p) => platformRank(p, "win32")), [0, 1, 1, 0]);
  assert.deepEqual(["src/os/win32/cycle.c", "src/os/unix/cycle.c", "os/file_darwin.go"].map((p) => platformRank(p, "darwin")), [1, 0, 0]);
  // Only the places of one name trade positions; other items stay where they were.
  const items = [{ n: "cycle", p: "win32/a.c" }, { n: "exit", p: "win32/b.c" }, { n: "cycle", p: "unix/a.c" }, { n: "main", p: "core/nginx.c" }];
  const ordered = thisPlatformFirst(items, (i) => i.n, (i) => i.p, "linux").map((i) => i.p);
  assert.deepEqual(ordered, ["unix/a.c", "win32/b.c", "win32/a.c", "core/nginx.c"]);
  assert.deepEqual(thisPlatformFirst(items, (i) => i.n, (i) => i.p, "win32").map((i) => i.p), items.map((i) => i.p));
  if (process.platform === "win32") return;
  // The index answer to a question in words: both ports match (the Windows one's body says "reload" once more, so BM25
  // ranks it first); a Linux or macOS user is shown the Unix one first.
  const body = (extra: string) => `void ngx_master_process_cycle(ngx_cycle_t *cycle) {\n    /* the master process reloads configuration on a signal */\n    ngx_reconfigure = 1;${extra}\n}\n`;
  const dir = makeTree({
    "src/os/win32/ngx_process_cycle.c": body("\n    ngx_reload_configuration(cycle);"),
    "src/os/unix/ngx_process_cycle.c": body("\n    ngx_signal_worker_processes(cycle, 1);\n    ngx_start_worker_processes(cycle, 1);"),
  });
  const index = await indexFolder(dir);
  const answer = answerFromIndex(index, "how does the master process reload configuration?");
  assert.deepEqual(answer.citations.slice(0, 2).map((c) => c.path), ["src/os/unix/ngx_process_cycle.c", "src/os/win32/ngx_process_cycle.c"], answer.markdown);
  removeTree(dir);
});

test("a plain word naming a definition yields to the search when the search finds a name holding more of the question", async () => {
  const dir = makeTree({
    "app.py": [
      "class Request:",
      "    @property",
      "    def blueprints(self):",
      "        return []",
      "",
      "class App:",
      "    def register_blueprint(self, blueprint):",
      '        """Register a blueprint on the application."""',
      "        self.blueprints[blueprint.name] = blueprint",
      "",
    ].join("\n"),
  });
  const index = await indexFolder(dir);
  const first = (q: string) => {
    const a = answerFromIndex(index, q);
    return index.find(a.symbols[0] ?? "")[0]?.definition.name + " " + a.citations[0]?.line;
  };
  assert.equal(first("how are blueprints registered on the app?"), "register_blueprint 7");
  // The search's first hit holds no more of this question's words than the named definition: the name keeps the lead.
  assert.equal(first("blueprints"), "blueprints 3");
  removeTree(dir);
});

test("the answer leads with what the question asks: uses for who-uses, callees for what-it-calls", async () => {
  const index = await indexed();
  const uses = answerFromIndex(index, "Who uses `computeInvoiceTotal`?");
  assert.deepEqual([uses.citations[0].path, uses.citations[0].line], ["app/main.py", 4], "first citation: a use");
  assert.ok(uses.markdown.indexOf("Used in") < uses.markdown.indexOf("**function**"));
  const calls = answerFromIndex(index, "What does `computeInvoiceTotal` call?");
  assert.deepEqual([calls.citations[0].path, calls.citations[0].line], ["src/rates.ts", 1], "first citation: a callee");
  assert.match(calls.markdown, /^### `computeInvoiceTotal`\n\n\*\*Calls:\*\* `rate` src\/rates.ts:1/);
  assert.equal((calls.markdown.match(/`rate` src\/rates.ts:1/g) ?? []).length, 1, "callees are not repeated");
  const both = answerFromIndex(index, "Where is computeInvoiceTotal defined and who uses it?");
  assert.equal(both.citations[0].path, "src/billing.ts", "a definition question keeps the definition first");
});

test("code that does the work leads: types and bodiless declarations rank below, and a declaration brings its implementations", async () => {
  const { DefinitionSearch, searchWeight } = await import("../../model-runtime/src/answer/definition-search");
  const dir = makeTree({
    // A conditional type and a function match the question's words alike; the function does the work.
    "src/types.ts": "/** The response for a status code. */\nexport type StatusCodeResponse<T> = T extends number ? Response : never;\n",
    "src/respond.ts": "/** The response for a status code. */\nexport function responseForStatusCode(code: number) {\n  return new Response(null, { status: code });\n}\n",
    "binding/binding.go": [
      "package binding",
      "// StructValidator checks structs.",
      "type StructValidator interface {",
      "\t// ValidateStruct validates the struct's tags.",
      "\tValidateStruct(obj any) error",
      "}",
      "",
    ].join("\n"),
    "binding/default_validator.go": [
      "package binding",
      "type defaultValidator struct{}",
      "func (v *defaultValidator) ValidateStruct(obj any) error {",
      "\treturn v.validate.Struct(obj)",
      "}",
      "",
    ].join("\n"),
  });
  const index = await indexFolder(dir);
  const def = (name: string) => [...index.allFiles()].flatMap((f) => f.definitions.map((d) => ({ f, d }))).find((x) => x.d.name === name)!;
  const typeAlias = def("StatusCodeResponse");
  const fn = def("responseForStatusCode");
  assert.ok(searchWeight(typeAlias.f.path, typeAlias.d) < searchWeight(fn.f.path, fn.d));
  const search = new DefinitionSearch(index);
  assert.deepEqual(search.query("which response goes with a status code?").slice(0, 2).map((h) => h.definition.name), ["responseForStatusCode", "StatusCodeResponse"]);
  search.dispose();
  // The interface method is the search's hit; its implementation is cited first.
  const a = answerFromIndex(index, "where are the struct tags validated?");
  const cited = a.citations.map((c) => `${c.path}:${c.line}`);
  assert.equal(cited[0], "binding/default_validator.go:3", a.markdown);
  assert.ok(cited.includes("binding/binding.go:5"), a.markdown);
  removeTree(dir);
});

/** What the definition `name` of `path` calls, as `path:Container.name` (WorkspaceIndex.callees). */
function calleeLabels(index: WorkspaceIndex, path: string, name: string): string[] {
  const at = index.find(name).find((h) => h.path === path)!;
  return index.callees(at.root, path, at.definition).map((c) => `${c.path}:${c.definition.container ? `${c.definition.container}.` : ""}${c.definition.name}`);
}

test("a name used only as a member resolves to a method, and in C to nothing (a struct field), not to a free function", async () => {
  const dir = makeTree({
    "core/nginx.c": "int main(int argc, char **argv) {\n  return 0;\n}\n",
    "http/limit.c": "static int limit_handler(request_t *r) {\n  if (r->main->count) {\n    return helper(r);\n  }\n  return 0;\n}\nstatic int helper(request_t *r) {\n  return 1;\n}\n",
    "pkg/group.ts": "export class RouterGroup {\n  GET(path: string) {\n    return path;\n  }\n}\n",
    "shortcuts/gins.ts": "export function GET(path: string) {\n  return path;\n}\n",
    "app/routes.ts": "export function setupRoutes(router: any) {\n  router.GET('/a');\n  return router;\n}\n",
    "app/direct.ts": "import { GET } from '../shortcuts/gins';\nexport function direct() {\n  return GET('/b');\n}\n",
  });
  const index = await indexFolder(dir);
  const callees = (path: string, name: string) => calleeLabels(index, path, name);
  assert.deepEqual(callees("http/limit.c", "limit_handler"), ["http/limit.c:helper"], "r->main is a field, not nginx.c's main");
  assert.deepEqual(callees("app/routes.ts", "setupRoutes"), ["pkg/group.ts:RouterGroup.GET"]);
  // A file that calls the bare name is not bound by the rule: its record lists GET as used bare.
  assert.deepEqual(index.get("ws", "app/routes.ts")?.memberOnly, ["GET"]);
  assert.ok(!index.get("ws", "app/direct.ts")?.memberOnly?.includes("GET"));
  assert.equal(callees("app/direct.ts", "direct").length, 1);
  removeTree(dir);
});

test("a callee resolves to the definition the file can see: imported, re-exported through a barrel, of its Go package; a parameter or a local shadows", async () => {
  const dir = makeTree({
    // TypeScript: `add` twice, the first by path not the imported one; `verify` behind a barrel (index.ts).
    "router/linear.ts": "export function add(path: string) {\n  return path;\n}\n",
    "router/trie.ts": "export function add(path: string) {\n  return path + '/';\n}\n",
    "middleware/except.ts": "import { add } from '../router/trie';\nexport function except(path: string) {\n  return add(path);\n}\n",
    "aaa/verify.ts": "export function verify(token: string) {\n  return token;\n}\n",
    "utils/jwt/jwt.ts": "export function verify(token: string) {\n  return token.length > 0;\n}\n",
    "utils/jwt/index.ts": "export { verify } from './jwt';\n",
    "middleware/auth.ts": "import { verify } from '../utils/jwt';\nexport function auth(token: string) {\n  return verify(token);\n}\n",
    // A callback parameter named like a repository function is the callback.
    "app/base.ts": "export function onError(err: Error) {\n  return err;\n}\n",
    "app/limit.ts": "export function bodyLimit(onError: (e: Error) => void, e: Error) {\n  return onError(e);\n}\n",
    // After a dot, a function of a module the file imports (a namespace import), not a method of that name.
    "lib/utils.ts": "export function parse(s: string) {\n  return s;\n}\n",
    "lib/parser.ts": "export class Parser {\n  parse(s: string) {\n    return s + '!';\n  }\n}\n",
    "app/load.ts": "import * as utils from '../lib/utils';\nexport function load(s: string) {\n  return utils.parse(s);\n}\n",
    "app/other.ts": "export function other(p: any) {\n  return p.parse('x');\n}\n",
    // So does a local variable.
    "app/pick.ts": "export function run() {\n  const onError = pick();\n  return onError(1);\n}\nexport function pick(): any {\n  return 1;\n}\n",
    // …but a pytest fixture is passed in by its name.
    "tests/conftest.py": "def client():\n    return 1\n",
    "tests/test_home.py": "def test_home(client):\n    assert client.get('/')\n",
    // Go, in a checkout named like its module (example.com/ws): three packages define Default, api/ first by path.
    "go.mod": "module example.com/ws\n",
    "gin.go": "package gin\n\nfunc Default() int {\n\treturn 1\n}\n",
    "api/api.go": "package api\n\nfunc Default() int {\n\treturn 3\n}\n",
    "binding/binding.go": "package binding\n\nfunc Default() int {\n\treturn 2\n}\n",
    "binding/json.go": "package binding\n\nfunc decode() int {\n\treturn Default()\n}\n",
    "context.go": "package gin\n\nimport \"example.com/ws/binding\"\n\nfunc Bind() int {\n\treturn binding.Default()\n}\n",
    "ginS/gins.go": "package ginS\n\nimport \"example.com/ws\"\n\nfunc Run() int {\n\treturn gin.Default()\n}\n",
  });
  const index = await indexFolder(dir);
  const callees = (path: string, name: string) => calleeLabels(index, path, name);
  assert.deepEqual(callees("middleware/except.ts", "except"), ["router/trie.ts:add"], "the imported add, not the first by path");
  assert.deepEqual(callees("middleware/auth.ts", "auth"), ["utils/jwt/jwt.ts:verify"], "through the barrel's re-export");
  assert.deepEqual(callees("app/limit.ts", "bodyLimit"), [], "onError is the parameter");
  assert.deepEqual(callees("app/pick.ts", "run"), ["app/pick.ts:pick"], "onError is the local variable");
  assert.deepEqual(callees("app/load.ts", "load"), ["lib/utils.ts:parse"], "utils.parse: the imported module's function");
  assert.deepEqual(callees("app/other.ts", "other"), ["lib/parser.ts:Parser.parse"], "p.parse with no module imported: the method");
  assert.deepEqual(index.uses("onError").map((r) => r.path), [], "and not a use of app/base.ts's onError");
  assert.deepEqual(index.uses("client").map((r) => `${r.path}:${r.line}`), ["tests/test_home.py:0", "tests/test_home.py:1"], "a pytest fixture is used by the test taking it");
  assert.deepEqual(callees("tests/test_home.py", "test_home"), ["tests/conftest.py:client"]);
  assert.deepEqual(callees("context.go", "Bind"), ["binding/binding.go:Default"], "binding.Default is the imported package's");
  assert.deepEqual(callees("binding/json.go", "decode"), ["binding/binding.go:Default"], "a bare Default is its own package's");
  assert.deepEqual(callees("ginS/gins.go", "Run"), ["gin.go:Default"], "example.com/ws is the checkout's root package");
  removeTree(dir);
});

test("after a module's name, that module's function (through its re-exports); after a class's name, its member; a closure is its function's own", async () => {
  const dir = makeTree({
    "pkg/__init__.py": "",
    "pkg/util/__init__.py": "from .langhelpers import warn as warn\n",
    "pkg/util/langhelpers.py": "def warn(msg):\n    return msg\n",
    "pkg/sql/__init__.py": "",
    // The compiler has a warn method of its own, and calls util.warn in one method and a linter's warn in another.
    "pkg/sql/compiler.py": [
      "from .. import util",
      "",
      "class Compiled:",
      "    def warn(self):",
      "        return 1",
      "    def process(self, x):",
      "        return x",
      "    def visit(self):",
      "        return util.warn('x')",
      "    def lint(self, linter):",
      "        return linter.warn()",
    ].join("\n"),
    // A dialect's type returns closures named process; the dialect's compiler calls its base class's process.
    "pkg/types.py": "class HSTORE:\n    def bind_processor(self):\n        def process(value):\n            return value\n        return process\n",
    "pkg/dialect.py": "from .types import HSTORE\nfrom .sql import compiler\n\nclass PGCompiler(compiler.Compiled):\n    def render(self):\n        return self.process(1)\n",
    // Two imported classes with a static parse: the one named before the dot.
    "lib/reader.ts": "export class Reader {\n  static parse(s: string) {\n    return s;\n  }\n}\n",
    "lib/writer.ts": "export class Writer {\n  static parse(s: string) {\n    return s + '!';\n  }\n}\n",
    "app/go.ts": "import { Reader } from '../lib/reader';\nimport { Writer } from '../lib/writer';\nexport function go() {\n  return Writer.parse('x');\n}\n",
  });
  const index = await indexFolder(dir);
  const callees = (path: string, name: string) => calleeLabels(index, path, name);
  assert.deepEqual(callees("pkg/sql/compiler.py", "visit"), ["pkg/util/langhelpers.py:warn"], "util.warn: the util package's re-export, not the own method");
  assert.deepEqual(callees("pkg/sql/compiler.py", "lint"), ["pkg/sql/compiler.py:Compiled.warn"], "linter.warn: a method, the file's own");
  assert.deepEqual(callees("pkg/dialect.py", "render"), ["pkg/sql/compiler.py:Compiled.process"], "not the closure inside HSTORE.bind_processor");
  assert.deepEqual(callees("app/go.ts", "go"), ["lib/writer.ts:Writer.parse", "lib/writer.ts:Writer"], "Writer.parse, not the first imported parse");
  const warn = index.find("warn").find((h) => h.path === "pkg/util/langhelpers.py")!;
  assert.deepEqual(index.usesOf(warn).map((r) => `${r.path}:${r.line}`), ["pkg/sql/compiler.py:8", "pkg/util/__init__.py:0"], "who uses util's warn: util.warn and the re-export, not linter.warn");
  removeTree(dir);
});

test("a name an import statement brings in is that module's, or its re-export's, before one some other import reaches", async () => {
  const dir = makeTree({
    // Python: the package re-exports is_true from assertions; the sql package (also imported) has its own is_true.
    "pkg/__init__.py": "from .sql.operators import *\n",
    "pkg/sql/__init__.py": "",
    "pkg/sql/operators.py": "def is_true(a):\n    return a is True\n",
    "pkg/testing/__init__.py": "from .assertions import is_true\n",
    "pkg/testing/assertions.py": "def is_true(a, msg=None):\n    assert bool(a), msg\n",
    "pkg/testing/suite/test_reflect.py": "from ... import operators\nfrom ...testing import is_true\n\ndef test_has_table():\n    is_true(1)\n",
    // TypeScript: body.ts imports request.ts (HonoRequest.parseBody); the middleware imports body.ts's parseBody.
    "src/request.ts": "export class HonoRequest {\n  parseBody() {\n    return {};\n  }\n}\n",
    "src/utils/body.ts": "import { HonoRequest } from '../request';\nexport function parseBody(r: HonoRequest) {\n  return r;\n}\n",
    "src/middleware/override.ts": "import { HonoRequest } from '../request';\nimport { parseBody } from '../utils/body';\nexport function methodOverride(c: any) {\n  c.req.parseBody();\n  return parseBody(c.req);\n}\n",
  });
  const index = await indexFolder(dir);
  const callees = (path: string, name: string) => calleeLabels(index, path, name);
  assert.deepEqual(callees("pkg/testing/suite/test_reflect.py", "test_has_table"), ["pkg/testing/assertions.py:is_true"]);
  assert.deepEqual(callees("src/middleware/override.ts", "methodOverride"), ["src/utils/body.ts:parseBody"], "the imported module itself before what it imports");
  removeTree(dir);
});

test("self.x() and this.x() are the class's own member, else the nearest base class's; super.x() starts at the bases", async () => {
  const dir = makeTree({
    "pkg/a_other.py": "class Other:\n    def process(self, x):\n        return x\n",
    "pkg/sql/compiler.py": "class SQLCompiler:\n    def process(self, x):\n        return x\n",
    "pkg/dialect.py": "from .a_other import Other\nfrom .sql import compiler\n\nclass PGCompiler(compiler.SQLCompiler):\n    def render(self):\n        return self.process(1)\n",
    "src/a_linear.ts": "export class LinearRouter {\n  add(p: string) {\n    return p;\n  }\n}\n",
    "src/base.ts": "export class HonoBase {\n  add(p: string) {\n    return p + '/';\n  }\n}\n",
    "src/hono.ts": "import { LinearRouter } from './a_linear';\nimport { HonoBase } from './base';\nexport class Hono extends HonoBase {\n  route(p: string) {\n    return this.add(p);\n  }\n  add(p: string) {\n    return super.add(p);\n  }\n}\n",
  });
  const index = await indexFolder(dir);
  const callees = (path: string, name: string) => calleeLabels(index, path, name);
  assert.deepEqual(callees("pkg/dialect.py", "render"), ["pkg/sql/compiler.py:SQLCompiler.process"], "the base class's, not Other's first by path");
  const add = index.find("add").filter((h) => h.path === "src/hono.ts");
  const route = index.find("route").find((h) => h.path === "src/hono.ts")!;
  assert.deepEqual(index.callees(route.root, route.path, route.definition).map((c) => `${c.path}:${c.definition.container}.${c.definition.name}`), ["src/hono.ts:Hono.add"], "this.add: its own class's");
  const meant = index.meantAt(add[0].root, "src/hono.ts", 7, "add");
  assert.equal(`${meant?.path}:${meant?.definition.container}`, "src/base.ts:HonoBase", "super.add (line 8): the base's");
  removeTree(dir);
});

test("what a function calls comes before the types and constants it uses", async () => {
  const dir = makeTree({
    "src/types.ts": "export type Amount = number;\nexport interface Options {\n  cap: number;\n}\n",
    "src/calc.ts": "import { Amount, Options } from './types';\nexport function total(a: Amount, o: Options): Amount {\n  const capped = Math.min(a, o.cap);\n  return round(capped);\n}\nexport function round(x: number) {\n  return Math.round(x);\n}\n",
  });
  const index = await indexFolder(dir);
  const total = index.find("total")[0];
  assert.deepEqual(index.callees(total.root, total.path, total.definition).map((c) => c.definition.name), ["round", "Amount", "Options"]);
  assert.deepEqual(index.callees(total.root, total.path, total.definition, 2).map((c) => c.definition.name), ["round", "Amount"], "the limit keeps the callables");
  removeTree(dir);
});

test("library code's callees never resolve to tests or examples; a test's may resolve to the library", async () => {
  const dir = makeTree({
    "src/gson.ts": "export function fromJson(text: string) {\n  const reader = makeReader(text);\n  return parse(reader);\n}\nexport function parse(r: unknown) {\n  return r;\n}\n",
    "test/reader.test.ts": "export function reader() {\n  return 1;\n}\nexport function makeReader() {\n  return parse(reader());\n}\nimport { parse } from '../src/gson';\n",
    "examples/demo.ts": "export function makeReader(t: string) {\n  return t;\n}\n",
  });
  const index = await indexFolder(dir);
  const callees = (path: string, name: string) => calleeLabels(index, path, name);
  // `reader` and `makeReader` exist only in tests and examples: the library's fromJson calls neither.
  assert.deepEqual(callees("src/gson.ts", "fromJson"), ["src/gson.ts:parse"]);
  assert.deepEqual(callees("test/reader.test.ts", "makeReader").sort(), ["src/gson.ts:parse", "test/reader.test.ts:reader"]);
  removeTree(dir);
});

test("who uses X lists the library's own users first, then examples, then tests", async () => {
  const dir = makeTree({
    "a.test.ts": "import { parse } from './src/lib';\nexport function testParse() {\n  return parse('x');\n}\n",
    "examples/demo.ts": "import { parse } from '../src/lib';\nexport function demo() {\n  return parse('d');\n}\n",
    "src/lib.ts": "export function parse(s: string) {\n  return s;\n}\n",
    "src/use.ts": "import { parse } from './lib';\nexport function load() {\n  return parse('y');\n}\n",
  });
  const index = await indexFolder(dir);
  assert.deepEqual([...new Set(index.uses("parse").map((r) => r.path))], ["src/use.ts", "examples/demo.ts", "a.test.ts"]);
  removeTree(dir);
});

test("a file's imports follow its edits, and an import of a file added later resolves once it exists", async () => {
  const dir = makeTree({
    "src/a.ts": "import { b } from './b';\nexport function a() {\n  return b();\n}\n",
    "src/b.ts": "export function b() {\n  return 1;\n}\n",
    "src/c.ts": "export function c() {\n  return 2;\n}\n",
  });
  const index = await indexFolder(dir);
  const imported = () => [...index.importedFiles("ws", "src/a.ts")].map((k) => k.split("\u0000")[1]);
  assert.deepEqual(imported(), ["src/b.ts"]);
  const a = index.get("ws", "src/a.ts")!;
  index.upsert({ ...a, imports: [{ source: "./c", line: 0 }, { source: "./d", line: 1 }] });
  assert.deepEqual(imported(), ["src/c.ts"], "the edit's imports; ./d is not there yet");
  const c = index.get("ws", "src/c.ts")!;
  index.upsert({ ...c, path: "src/d.ts", definitions: [] });
  assert.deepEqual(imported().sort(), ["src/c.ts", "src/d.ts"], "a new file: ./d resolves");
  index.remove("ws", "src/c.ts");
  assert.deepEqual(imported(), ["src/d.ts"], "a removed file no longer resolves");
  removeTree(dir);
});

test("the same files give the same answer whichever order they reached the index in (parse workers finish in any order)", async () => {
  const { WorkspaceIndex } = await import("../../model-runtime/src/index/workspace-index");
  const { DefinitionSearch } = await import("../../model-runtime/src/answer/definition-search");
  // Twelve files that score the same for the search and all use one another: every tie is met.
  const files: Record<string, string> = {};
  for (let i = 0; i < 12; i++) {
    files[`src/route${i}.ts`] = [
      `import { handleRequest } from "./route${(i + 1) % 12}";`,
      "/** Handle a request for this route. */",
      `export function handleRequest${i}() {`,
      "  return handleRequest();",
      "}",
      "export function handleRequest() { return 1; }",
    ].join("\n");
  }
  const tree = makeTree(files);
  try {
    const records = [...(await indexFolder(tree)).allFiles()];
    const built = (order: typeof records) => {
      const index = new WorkspaceIndex();
      const search = new DefinitionSearch(index); // kept in step file by file, like the extension's during indexing
      for (const r of order) index.upsert(r);
      return { index, search };
    };
    const forward = built(records);
    const backward = built([...records].reverse());
    const shuffled = built([...records].sort((a, b) => (a.hash < b.hash ? -1 : 1)));
    for (const other of [backward, shuffled]) {
      assert.deepEqual(other.index.allFiles().map((f) => f.path), forward.index.allFiles().map((f) => f.path));
      const hits = (s: typeof forward) => s.search.query("handle a request", 8).map((h) => `${h.path}:${h.definition.name}`);
      assert.deepEqual(hits(other), hits(forward));
      for (const q of ["how is a request handled?", "who uses handleRequest?"]) {
        assert.equal(answerFromIndex(other.index, q).markdown, answerFromIndex(forward.index, q).markdown, q);
      }
    }
    assert.deepEqual(forward.index.allFiles().map((f) => f.path), [...records.map((r) => r.path)].sort(), "path order");
  } finally {
    removeTree(tree);
  }
});
