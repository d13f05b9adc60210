import assert from "node:assert/strict";
import { after, test } from "node:test";
import { answerFromIndex } from "../../model-runtime/src/answer/index-answer";
import { indexFacts } from "../../model-runtime/src/answer/index-facts";
import { indexFolder, makeTree, removeTree } from "../helpers/tmp-tree";

// Sibling names (the model's weak spot), a function with callees in two files, and uses in several definitions.
const dir = makeTree({
  "src/http.c": [
    "static int http_add_addrs(int a) { return a + 1; }",
    "int http_block(int a) {",
    "  int x = http_add_addrs(a);",
    "  return shared_count(x);",
    "}",
  ].join("\n"),
  "src/mail.c": ["static int mail_add_addrs(int a) { return a + 2; }", "int mail_block(int a) {", "  return mail_add_addrs(a) + shared_count(a);", "}"].join("\n"),
  "src/shared.c": "int shared_count(int a) {\n  return a > 0 ? shared_count(a - 1) : 0;\n}\n",
  "src/ledger.ts": "export class Ledger {\n  post(x: number) {}\n}\nexport class Journal {\n  post(x: number) {}\n}\n",
  // A container-less `post` (sorted before src/) must not answer for Journal.post.
  "lib/post.py": "def post(x):\n    return shared_count(x)\n",
  // A use outside every definition.
  "tools/main.py": "import shared\n\nshared_count(3)\n",
  // Mentions, not uses: a docstring and a comment name shared_count and http_add_addrs, a README names shared_count.
  "lib/notes.py": 'def summary(x):\n    """Unlike shared_count, this one calls http_add_addrs never."""\n    return x  # not shared_count\n',
  "README.md": "Call `shared_count` to count. `ghost` is unused.\n",
  "lib/ghost.py": "def ghost():\n    pass\n",
  // A nested helper shadows another file's helper of the same name.
  "lib/nested.py": "def outer():\n    def helper():\n        return 1\n    return helper() + tally()\n",
  "lib/other.py": "def helper():\n    return 2\n\ndef tally():\n    return 3\n",
  // Express's style: methods assigned to an exported object have no container; the signature names the owner. An
  // example program and a test define the same name (their paths sort before lib/).
  "lib/response.js": "var res = module.exports = {};\nres.render = function render(view) {\n  return view;\n};\n",
  "lib/application.js": "var app = exports = module.exports = {};\napp.render = function render(name) {\n  return name;\n};\n",
  "examples/view.js": "function render(x) {\n  return x;\n}\nmodule.exports = render;\n",
  "a_test/render.test.js": "function render(x) {\n  return x;\n}\n",
});
after(() => removeTree(dir));

const names = (f: ReturnType<typeof indexFacts>) => f?.definitions.map((d) => `${d.container ? `${d.container}.` : ""}${d.name} ${d.path}`);

test("where-defined: the definitions named exactly as asked, never a sibling", async () => {
  const index = await indexFolder(dir);
  const f = indexFacts(index, "Go to the definition of mail_add_addrs.");
  assert.equal(f?.kind, "where");
  assert.deepEqual(names(f), ["mail_add_addrs src/mail.c"]);
  // Two classes define `post`: both are facts; `Ledger.post` keeps only the member of Ledger.
  assert.deepEqual(names(indexFacts(index, "Where is `post` defined?"))?.sort(), ["Journal.post src/ledger.ts", "Ledger.post src/ledger.ts", "post lib/post.py"]);
  assert.deepEqual(names(indexFacts(index, "Where is `Ledger.post` defined?")), ["Ledger.post src/ledger.ts"]);
  assert.deepEqual(names(indexFacts(index, "Where is `Journal.post` defined?")), ["Journal.post src/ledger.ts"]);
  // `app.render` is the one written as such; `render` lists the library's definitions before the example's and the test's.
  assert.deepEqual(names(indexFacts(index, "Where is `app.render` defined?")), ["render lib/application.js"]);
  assert.deepEqual(names(indexFacts(index, "Where is `render` defined?")), ["render lib/application.js", "render lib/response.js", "render examples/view.js", "render a_test/render.test.js"]);
  // WorkspaceIndex.find: the qualified one first, then the library's own code, the example, the test.
  assert.deepEqual(index.find("res.render").map((h) => h.path), ["lib/response.js", "lib/application.js", "examples/view.js", "a_test/render.test.js"]);
});

test("what-calls: the callees of the named function, from other files too; who-uses: the definitions using the symbol", async () => {
  const index = await indexFolder(dir);
  const calls = indexFacts(index, "What does `http_block` call?");
  assert.equal(calls?.kind, "calls");
  assert.deepEqual(names(calls)?.sort(), ["http_add_addrs src/http.c", "shared_count src/shared.c"]);
  const uses = indexFacts(index, "Who uses `shared_count`?");
  assert.equal(uses?.kind, "uses");
  // Each user is cited in the file of its use; a use outside every definition is a fact without a name; a recursive
  // call is a use too.
  assert.deepEqual(names(uses)?.sort(), [" tools/main.py", "http_block src/http.c", "mail_block src/mail.c", "post lib/post.py", "shared_count src/shared.c"]);
});

test("mentions in comments, docstrings and text files are neither callees nor users; they come after the uses in code", async () => {
  const index = await indexFolder(dir);
  const summary = index.find("summary")[0];
  assert.deepEqual(index.callees(summary.root, summary.path, summary.definition), [], "a docstring's names are not called");
  const refs = index.references("shared_count");
  const firstMention = refs.findIndex((r) => r.mention);
  assert.ok(firstMention > 0 && refs.slice(firstMention).every((r) => r.mention), JSON.stringify(refs));
  assert.deepEqual(refs.filter((r) => r.mention).map((r) => `${r.path}:${r.line}`).sort(), ["README.md:0", "lib/notes.py:1", "lib/notes.py:2"]);
  assert.deepEqual(names(indexFacts(index, "Who uses `http_add_addrs`?")), ["http_block src/http.c"], "the use in code, not the docstring");
  // A function's own nested definitions are part of it, not callees elsewhere.
  assert.deepEqual(names(indexFacts(index, "What does `outer` call?")), ["tally lib/other.py"]);
  // A name only ever mentioned gets its mentions as the answer (better than nothing).
  assert.deepEqual(names(indexFacts(index, "Who uses `ghost`?")), [" README.md"]);
});

test("everyday phrasings: implemented, where to find, callers, called from, which functions it calls", async () => {
  const index = await indexFolder(dir);
  for (const q of ["Where is mail_add_addrs implemented?", "Where can I find `mail_add_addrs`?", "Show me the implementation of mail_add_addrs", "In which file is `mail_add_addrs`?"])
    assert.equal(indexFacts(index, q)?.kind, "where", q);
  for (const q of ["Where is `shared_count` called?", "What calls shared_count?", "Find all callers of `shared_count`.", "Which functions call shared_count?"])
    assert.equal(indexFacts(index, q)?.kind, "uses", q);
  for (const q of ["Which functions does `http_block` call?", "What does http_block invoke?"]) assert.equal(indexFacts(index, q)?.kind, "calls", q);
});

test("who calls X leaves out the imports of X (one-line and multi-line, Python and JavaScript); who uses X keeps them", async () => {
  const tree = makeTree({
    "pkg/helpers.py": "def make_response(x):\n    return x\n",
    "pkg/__init__.py": "from .helpers import make_response as make_response\n",
    "pkg/views.py": "from .helpers import (\n    make_response,\n)\n\ndef index():\n    return make_response(1)\n",
    "web/app.js": "import {\n  makeReply,\n} from './reply.js';\n\nexport function handle() {\n  return makeReply(2);\n}\n",
    "web/reply.js": "export function makeReply(x) { return x; }\n",
  });
  try {
    const index = await indexFolder(tree);
    const places = (q: string) => indexFacts(index, q)?.definitions.map((d) => `${d.name || "(module)"} ${d.path}`);
    assert.deepEqual(places("Who calls make_response?"), ["index pkg/views.py"]);
    assert.deepEqual(places("Who uses `make_response`?")?.sort(), ["(module) pkg/__init__.py", "(module) pkg/views.py", "index pkg/views.py"]);
    assert.deepEqual(places("Which functions call makeReply?"), ["handle web/app.js"]);
    assert.equal(places("Who uses makeReply?")?.length, 2, "the import and the call");
  } finally {
    removeTree(tree);
  }
});

test("where is a variable defined: its bindings outside functions (module constants, class fields), when no definition has the name", async () => {
  const dir = makeTree({
    "pkg/config.py": "import os\n\nDEFAULT_TIMEOUT = 30\n\nclass Settings:\n    retries = 3\n\ndef load():\n    local_only = 1\n    return DEFAULT_TIMEOUT + local_only\n",
    "pkg/errors.go": "package pkg\n\nvar ErrNotFound = errors.New(\"not found\")\n\nconst (\n\tMaxSize = 10\n)\n",
    "src/limits.ts": "export const MAX_ITEMS = 100;\nexport const handler = () => MAX_ITEMS;\n",
    // A definition of the name wins over a variable of it.
    "src/retries.ts": "export function retries() {\n  return 3;\n}\n",
  });
  const index = await indexFolder(dir);
  const bound = (q: string) => indexFacts(index, q)?.variables?.map((h) => `${h.variable.container ? `${h.variable.container}.` : ""}${h.variable.name} ${h.path}:${h.variable.line + 1}`);
  assert.deepEqual(bound("Where is DEFAULT_TIMEOUT defined?"), ["DEFAULT_TIMEOUT pkg/config.py:3"]);
  assert.deepEqual(bound("where is ErrNotFound defined?"), ["ErrNotFound pkg/errors.go:3"]);
  assert.deepEqual(bound("Where is `MaxSize` defined?"), ["MaxSize pkg/errors.go:6"]);
  assert.deepEqual(bound("Where is MAX_ITEMS defined?"), ["MAX_ITEMS src/limits.ts:1"]);
  assert.deepEqual(bound("Where is Settings.retries defined?"), ["Settings.retries pkg/config.py:6"]);
  assert.equal(bound("Where is retries defined?"), undefined, "the function retries answers");
  assert.equal(bound("Where is local_only defined?"), undefined, "a function's local is not the module's");
  assert.equal(bound("Where is handler defined?"), undefined, "a const holding a function is a definition");
  assert.deepEqual(names(indexFacts(index, "Where is handler defined?")), ["handler src/limits.ts"]);
  const answer = answerFromIndex(index, "Where is DEFAULT_TIMEOUT defined?");
  assert.deepEqual(answer.citations[0], { root: answer.citations[0].root, path: "pkg/config.py", line: 3, endLine: undefined });
  assert.match(answer.markdown, /DEFAULT_TIMEOUT = 30/);
  assert.ok(answer.citations.some((c) => c.path === "pkg/config.py" && c.line === 10), "and its use in load()");
  removeTree(dir);
});

test("several definitions of a name: the one more code uses comes first (an explanation lists the first three)", async () => {
  const dir = makeTree({
    // Adapters' methods named getPath sort first by path; the utility everybody calls is in utils/.
    "src/adapter/a.ts": "export class AProcessor {\n  getPath(e: any) {\n    return e.path;\n  }\n}\n",
    "src/adapter/b.ts": "export class BProcessor {\n  getPath(e: any) {\n    return e.rawPath;\n  }\n}\n",
    "src/utils/url.ts": "export const getPath = (request: Request): string => {\n  return new URL(request.url).pathname;\n};\n",
    "src/app.ts": "import { getPath } from './utils/url';\nexport function route(r: Request) {\n  return getPath(r);\n}\n",
    "src/mount.ts": "import { getPath } from './utils/url';\nexport function mount(r: Request) {\n  return getPath(r) + '/';\n}\n",
    "test/url.test.ts": "import { getPath } from '../src/utils/url';\nexport function getPathTwice(r: Request) {\n  return getPath(r) + getPath(r);\n}\n",
  });
  const index = await indexFolder(dir);
  const order = names(indexFacts(index, "Where is getPath defined?"));
  assert.equal(order?.[0], "getPath src/utils/url.ts", JSON.stringify(order));
  assert.deepEqual(order?.slice(1).sort(), ["AProcessor.getPath src/adapter/a.ts", "BProcessor.getPath src/adapter/b.ts"]);
  removeTree(dir);
});

test("who calls X: a library file's test module (Rust's mod tests) is listed with the tests, after the library and examples", async () => {
  const dir = makeTree({
    // The inline tests come first in the file, and the file sorts first by path.
    "src/a_serve.rs": [
      "pub fn serve_all() {",
      "    make_service();",
      "}",
      "#[cfg(test)]",
      "mod tests {",
      "    fn custom_listener() {",
      "        super::make_service();",
      "    }",
      "}",
      "pub fn serve_one() {",
      "    make_service();",
      "}",
    ].join("\n"),
    "src/service.rs": "pub fn make_service() -> u32 {\n    1\n}\n",
    "examples/hello/main.rs": "fn main() {\n    make_service();\n}\n",
    "tests/it.rs": "fn integration() {\n    make_service();\n}\n",
  });
  const index = await indexFolder(dir);
  assert.deepEqual(names(indexFacts(index, "Who calls make_service?")), [
    "serve_all src/a_serve.rs",
    "serve_one src/a_serve.rs",
    "main examples/hello/main.rs",
    "tests.custom_listener src/a_serve.rs",
    "integration tests/it.rs",
  ]);
  const { placeRank } = await import("../../model-runtime/src/index/code-places");
  assert.deepEqual([placeRank("src/a.rs", "custom_listener", "tests"), placeRank("src/a.rs", "custom_listener", "net::tests"), placeRank("src/a.rs", "latest", "contests")], [2, 2, 0]);
  removeTree(dir);
});

test("what X calls and who calls X go by calls: a function passed as a callback is used, not called", async () => {
  const dir = makeTree({
    "src/nodes.ts": "export function removeNode(n: any) {\n  return n;\n}\nexport function applyAll(list: any[]) {\n  list.forEach(removeNode);\n  return list.length;\n}\nexport function clear(n: any) {\n  return removeNode(n);\n}\n",
  });
  const index = await indexFolder(dir);
  assert.equal(indexFacts(index, "What does applyAll call?"), undefined, "applyAll only passes removeNode");
  assert.deepEqual(names(indexFacts(index, "What does clear call?")), ["removeNode src/nodes.ts"]);
  assert.deepEqual(names(indexFacts(index, "Who calls removeNode?")), ["clear src/nodes.ts"]);
  assert.deepEqual(names(indexFacts(index, "Who uses removeNode?"))?.sort(), ["applyAll src/nodes.ts", "clear src/nodes.ts"]);
  removeTree(dir);
});

test("no facts: a description, an explanation, an unknown name, a callee question about a non-function", async () => {
  const index = await indexFolder(dir);
  assert.equal(indexFacts(index, "Which definition does this describe? Adds two to a number."), undefined);
  assert.equal(indexFacts(index, "Explain `http_block`."), undefined);
  assert.equal(indexFacts(index, "Where is `smtp_add_addrs` defined?"), undefined);
  assert.equal(indexFacts(index, "What does `Ledger` call?"), undefined);
  // A description that mentions a name and a where-phrase is still a description.
  assert.equal(indexFacts(index, "Where is this implemented? It returns `mail_add_addrs` when defined."), undefined);
  assert.equal(indexFacts(index, "Which definition does this describe? Counts the users of `shared_count`."), undefined);
});

test("who uses Owner.x: the uses of that definition, not of another x a file imports; the index says which x a line means", async () => {
  const dir = makeTree({
    "src/context.ts": "export class Context {\n  header(name: string) {\n    return name;\n  }\n}\n",
    "src/request.ts": "export class HonoRequest {\n  header(name: string) {\n    return name + '!';\n  }\n}\n",
    "middleware/etag.ts": "import { HonoRequest } from '../src/request';\nexport function etag(r: HonoRequest) {\n  return r.header('x');\n}\n",
    "app/ctx.ts": "import { Context } from '../src/context';\nexport function cors(c: Context) {\n  return c.header('y');\n}\n",
    "app/guess.ts": "export function guess(x: any) {\n  return x.header('z');\n}\n",
    "sql/elements.py": "from typing import overload\n\n@overload\ndef literal(v: int) -> int: ...\n\ndef literal(v):\n    return v\n",
    "sql/query.py": "from .elements import literal\n\ndef select(v):\n    return literal(v)\n",
  });
  const index = await indexFolder(dir);
  const users = (q: string) => indexFacts(index, q)?.definitions.map((d) => `${d.path}:${d.name}`).sort();
  // A file that sees neither (guess.ts imports nothing) keeps its use: which header it calls is only a guess.
  assert.deepEqual(users("Who uses `HonoRequest.header`?"), ["app/guess.ts:guess", "middleware/etag.ts:etag"]);
  assert.deepEqual(users("Who uses `Context.header`?"), ["app/ctx.ts:cors", "app/guess.ts:guess"]);
  assert.deepEqual(users("Who uses `header`?"), ["app/ctx.ts:cors", "app/guess.ts:guess", "middleware/etag.ts:etag"], "the bare name: every use");
  // The index's own answer (no model) says the same.
  const cited = (q: string) => [...new Set(answerFromIndex(index, q).citations.map((c) => c.path))].sort();
  assert.ok(cited("Who uses HonoRequest.header?").includes("middleware/etag.ts"));
  assert.ok(!cited("Who uses HonoRequest.header?").includes("app/ctx.ts"), "ctx.ts sees Context's header");
  assert.ok(cited("Who uses header?").includes("app/ctx.ts"));
  assert.equal(index.meantAt("ws", "middleware/etag.ts", 2, "header")?.path, "src/request.ts");
  // Overloads are one symbol: each stub's uses are the implementation's.
  // (find lists the implementation first: the stub is a declaration.)
  const [implementation, stub] = index.find("literal").filter((h) => h.path === "sql/elements.py");
  assert.ok(stub && implementation && stub.definition.declarationOnly && stub.definition.nameLine < implementation.definition.nameLine);
  const lines = (h: typeof stub) => index.usesOf(h).map((r) => `${r.path}:${r.line}`);
  assert.deepEqual(lines(stub), ["sql/query.py:0", "sql/query.py:3"], "the import and the call");
  assert.deepEqual(lines(implementation), lines(stub));
  assert.equal(index.meantAt("ws", "app/ctx.ts", 2, "header")?.path, "src/context.ts");
  assert.ok(index.localAt("ws", "middleware/etag.ts", 2, "r"), "r is etag's parameter there");
  assert.ok(!index.localAt("ws", "middleware/etag.ts", 2, "header"));
  assert.ok(!index.localAt("ws", "src/request.ts", 2, "r"), "and nowhere else");
  removeTree(dir);
});
