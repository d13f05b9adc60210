/**
 * How right "what does X call" is, against a compiler: for every function and method of a TypeScript or JavaScript
 * repository, the TypeScript checker resolves each call in its body to the declaration it means (calls of parameters
 * and local variables left out: they call no definition of the repository), and the table
 * compares that with `WorkspaceIndex.callees` (lexical, resolved by what the file can see: docs/engine.md §6).
 *   resolved right — of the called names both list, how often the index names the checker's file;
 *   missed        — calls of repository code the index does not list (a class's `new`, calls it cannot see);
 *   not calls     — callables the index lists that the checker saw no call of (a name used, not called; a wrong guess).
 * and "who calls X": the functions using X's name (WorkspaceIndex.uses) against the checker's callers of that
 * declaration — how many listed are callers, and how many callers are listed.
 * usage: node dist/bench/bench-callees.js <repo dir> [source folder, default src] [--show N]  (needs the `typescript`
 *        dev dependency); for Python, --truth FILE from bench/callee-truth-python.py (Jedi) instead of the checker.
 *        Results: docs/benchmarks/index.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import ts from "typescript";
import { Indexer } from "../model-runtime/src/index/indexer";
import { isCallable } from "../model-runtime/src/index/workspace-index";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { show: { type: "string", default: "0" }, truth: { type: "string" } } });
const [repoArg, sub = "src"] = positionals;
if (!repoArg) throw new Error("usage: bench-callees <repo dir> [source folder]");
const repo = path.resolve(repoArg);
const show = Number(values.show);

/** The repository's own source files under `sub`: no tests, no declaration files, no node_modules. */
function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules") sourceFiles(p, out);
    } else if (/\.(?:[cm]?[jt]sx?)$/.test(e.name) && !/\.(?:test|spec)\.[cm]?[jt]sx?$/.test(e.name) && !/\.d\.[cm]?ts$/.test(e.name)) out.push(p);
  }
  return out;
}

const rel = (f: string) => path.relative(repo, f).split(path.sep).join("/");
/** A file of the repository itself, not of its dependencies (the repository may itself sit in a node_modules). */
const ownFile = (f: string) => !rel(f).startsWith("../") && !rel(f).includes("node_modules/");

/** Calls written by another resolver: {"path:line": {"name": ["declaring path", …]}}. */
function truthFromFile(file: string): Map<string, Map<string, Set<string>>> {
  const raw = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, Record<string, string[]>>;
  return new Map(Object.entries(raw).map(([key, called]) => [key, new Map(Object.entries(called).map(([name, paths]) => [name, new Set(paths)]))]));
}

/** A parameter or a variable declared inside a function: a call of it calls no repository definition. */
function isLocal(declaration: ts.Declaration): boolean {
  if (ts.isParameter(declaration) || ts.isBindingElement(declaration)) return true;
  if (!ts.isVariableDeclaration(declaration)) return false;
  for (let n: ts.Node | undefined = declaration.parent; n; n = n.parent) if (ts.isFunctionLike(n)) return true;
  return false;
}

/** "path:0-based line of the function's name" → called name → the files declaring what the checker resolved it to. */
function checkerCalls(files: string[]): Map<string, Map<string, Set<string>>> {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    // Plain JavaScript packages are CommonJS (require): resolved as Node 10 did; TypeScript as a bundler does.
    ...(files.some((f) => /\.[cm]?tsx?$/.test(f))
      ? { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }
      : { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 }),
    jsx: ts.JsxEmit.ReactJSX,
    allowJs: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const wanted = new Set(files.map((f) => path.resolve(f)));
  const calls = new Map<string, Map<string, Set<string>>>();
  for (const sf of program.getSourceFiles()) {
    if (!wanted.has(path.resolve(sf.fileName))) continue;
    const visitFunction = (nameNode: ts.Node, body: ts.Node) => {
      const key = `${rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(nameNode.getStart(sf)).line}`;
      const called = calls.get(key) ?? new Map<string, Set<string>>();
      calls.set(key, called);
      const scan = (n: ts.Node) => {
        if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
          const callee = ts.isPropertyAccessExpression(n.expression) ? n.expression.name : ts.isIdentifier(n.expression) ? n.expression : undefined;
          let symbol = callee && checker.getSymbolAtLocation(callee);
          if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
          const declaration = symbol?.declarations?.[0];
          const declared = declaration?.getSourceFile().fileName;
          if (callee && declaration && declared && !isLocal(declaration) && !/\.d\.[cm]?ts$/.test(declared) && ownFile(declared)) {
            const name = callee.getText(sf);
            (called.get(name) ?? called.set(name, new Set()).get(name)!).add(rel(declared));
          }
        }
        ts.forEachChild(n, scan);
      };
      scan(body);
    };
    const visit = (n: ts.Node) => {
      if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name && n.body) visitFunction(n.name, n.body);
      else if ((ts.isVariableDeclaration(n) || ts.isPropertyDeclaration(n)) && n.initializer && (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer))) visitFunction(n.name, n.initializer.body);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return calls;
}

(async () => {
  const files = values.truth ? [] : sourceFiles(path.join(repo, sub));
  const t0 = performance.now();
  // Another language's resolver wrote its calls in the same shape (bench/callee-truth-python.py: Jedi).
  const truth = values.truth ? truthFromFile(values.truth) : checkerCalls(files);
  const checkerSeconds = (performance.now() - t0) / 1000;
  const indexer = new Indexer({ roots: [{ name: path.basename(repo), path: repo }], storeDir: fs.mkdtempSync(path.join(os.tmpdir(), "longview-bench-callees-")) });
  await indexer.build();
  const index = indexer.index;
  let functions = 0, both = 0, right = 0, missed = 0, notCalls = 0;
  const wrong: string[] = [];
  for (const rec of index.allFiles()) {
    for (const def of rec.definitions) {
      const called = isCallable(def) ? truth.get(`${rec.path}:${def.nameLine}`) : undefined;
      if (!called) continue;
      functions++;
      const listed = index.callees(rec.root, rec.path, def, 500).filter((h) => isCallable(h.definition));
      const listedFile = new Map(listed.map((h) => [h.definition.name, h.path]));
      for (const [name, declaredIn] of called) {
        const file = listedFile.get(name);
        if (file === undefined) missed++;
        else if (declaredIn.has(file)) (both++, right++);
        else {
          both++;
          wrong.push(`${rec.path} ${def.name} → ${name}: index ${file}, checker ${[...declaredIn].join(", ")}`);
        }
      }
      for (const h of listed) if (!called.has(h.definition.name)) notCalls++;
    }
  }
  // Who calls a function: the checker's callers of each declaration against the functions the index says use its name
  // (WorkspaceIndex.uses, each use's innermost definition), over the functions the checker read.
  const callersOf = new Map<string, Set<string>>(); // "declaring file:name" → caller keys
  for (const [caller, called] of truth) for (const [name, declaredIn] of called) for (const file of declaredIn) (callersOf.get(`${file}:${name}`) ?? callersOf.set(`${file}:${name}`, new Set()).get(`${file}:${name}`)!).add(caller);
  let truthCallers = 0;
  const byName = { listed: 0, right: 0 };
  const byDefinition = { listed: 0, right: 0 };
  const count = (uses: Array<{ root: string; path: string; line: number }>, callers: Set<string>, into: { listed: number; right: number }) => {
    const listed = new Set<string>();
    for (const use of uses) {
      const user = index.definitionAt(use.root, use.path, use.line);
      const key = user && `${use.path}:${user.nameLine}`;
      if (key && truth.has(key)) listed.add(key);
    }
    into.listed += listed.size;
    for (const key of listed) if (callers.has(key)) into.right++;
  };
  for (const rec of index.allFiles()) {
    for (const def of rec.definitions) {
      const callers = isCallable(def) ? callersOf.get(`${rec.path}:${def.name}`) : undefined;
      if (!callers) continue;
      truthCallers += callers.size;
      count(index.uses(def.name, 5000), callers, byName);
      count(index.usesOf({ root: rec.root, path: rec.path, definition: def }, 5000), callers, byDefinition);
    }
  }
  await indexer.dispose();
  for (const w of wrong.slice(0, show)) console.log(w);
  console.log(`\n${path.basename(repo)}/${sub}: ${functions} functions (${values.truth ? `truth from ${values.truth}` : `checker ${checkerSeconds.toFixed(1)} s over ${files.length} files`})\n`);
  const pct = (a: number, b: number) => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;
  console.log("| what X calls: called names listed by both | resolved right | missed | not calls |");
  console.log("|---|---|---|---|");
  console.log(`| ${both} | ${right} (${pct(right, both)}) | ${missed} | ${notCalls} |\n`);
  console.log(`| who calls X (${truthCallers} callers by the checker) | callers listed | of them callers | of the checker's callers found |`);
  console.log("|---|---|---|---|");
  for (const [label, c] of [["uses of the name (uses)", byName], ["uses meaning this definition (usesOf)", byDefinition]] as const) console.log(`| ${label} | ${c.listed} | ${c.right} (${pct(c.right, c.listed)}) | ${pct(c.right, truthCallers)} |`);
  console.log(`\nmachine: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, Node ${process.version}, ${new Date().toISOString()}`);
})();
