import assert from "node:assert/strict";
import { test } from "node:test";
import { SourceParser, cleanDocComment, lexicalReferences } from "../../model-runtime/src/parse/extract";
import { isMention } from "../../model-runtime/src/index/workspace-index";
import { languageForPath } from "../../model-runtime/src/parse/languages";
import type { Definition, FileRecord } from "../../model-runtime/src/index/types";

const parser = new SourceParser();

/** "kind:container.name@line" (1-based line of the name) for compact comparisons. */
function summary(defs: Definition[]): string[] {
  return defs.map((d) => `${d.kind}:${d.container ? `${d.container}.` : ""}${d.name}@${d.nameLine + 1}`);
}

/** 1-based line of the first occurrence of `needle` in `src`. */
function lineOf(src: string, needle: string): number {
  const i = src.indexOf(needle);
  assert.ok(i >= 0, `${needle} not in source`);
  return src.slice(0, i).split("\n").length;
}

test("TypeScript: functions, classes, methods, interfaces, types, enums, arrow functions, imports, docs", async () => {
  const src = [
    'import { helper } from "./helper";',
    'import fs = require("fs");',
    "/** Adds two numbers. */",
    "export function add(a: number, b: number): number {",
    "  return helper(a) + b;",
    "}",
    "export class Ledger {",
    "  // Records an entry.",
    "  record(amount: number) { return add(amount, 1); }",
    "}",
    "interface Shape { area(): number }",
    "type Id = string;",
    "enum Color { Red }",
    "const double = (q: number) => q * 2;",
  ].join("\n");
  const r = await parser.parse("typescript", src);
  assert.deepEqual(summary(r.definitions), [
    `function:add@${lineOf(src, "function add")}`,
    `class:Ledger@${lineOf(src, "class Ledger")}`,
    `method:Ledger.record@${lineOf(src, "record(")}`,
    `interface:Shape@${lineOf(src, "interface Shape")}`,
    `method:Shape.area@${lineOf(src, "area()")}`,
    `type:Id@${lineOf(src, "type Id")}`,
    `enum:Color@${lineOf(src, "enum Color")}`,
    `function:double@${lineOf(src, "const double")}`,
  ]);
  const add = r.definitions.find((d) => d.name === "add")!;
  assert.equal(add.doc, "Adds two numbers.");
  assert.equal(add.signature, "function add(a: number, b: number): number");
  assert.equal(r.definitions.find((d) => d.name === "record")!.doc, "Records an entry.");
  assert.equal(r.definitions.find((d) => d.name === "area")!.declarationOnly, true);
  assert.deepEqual(r.imports.map((i) => i.source), ["./helper", "fs"]);
  assert.deepEqual(r.references.helper, [lineOf(src, "import { helper }") - 1, lineOf(src, "return helper") - 1]);
  assert.equal(r.hasErrors, false);
});

test("TypeScript and JavaScript: class fields holding a function are methods, with their docs and signatures", async () => {
  const ts = [
    "export class Hono {",
    "  /** Handles a request. */",
    "  fetch = (request: Request, env?: unknown) => {",
    "    return this.#dispatch(request);",
    "  };",
    "  #helper = function (a: number) { return a; };",
    "  routes: string[] = [];",
    "  #dispatch(req: Request) { return req; }",
    "}",
  ].join("\n");
  const r = await parser.parse("typescript", ts);
  assert.deepEqual(summary(r.definitions), [
    `class:Hono@${lineOf(ts, "class Hono")}`,
    `method:Hono.fetch@${lineOf(ts, "fetch =")}`,
    `method:Hono.#helper@${lineOf(ts, "#helper =")}`,
    `method:Hono.#dispatch@${lineOf(ts, "#dispatch(req:")}`,
  ]);
  const fetch = r.definitions.find((d) => d.name === "fetch")!;
  assert.equal(fetch.doc, "Handles a request.");
  assert.match(fetch.signature, /^fetch = \(request: Request, env\?: unknown\) =>/);
  const js = ["class Router {", "  route = (path) => path;", "  count = 0;", "}"].join("\n");
  const j = await parser.parse("javascript", js);
  assert.deepEqual(summary(j.definitions), [`class:Router@1`, `method:Router.route@2`]);
});

test("interface and abstract methods without a body are declarations, in every language that has them", async () => {
  const samples: [string, string, string[]][] = [
    ["java", "interface A { void run(); default int x() { return 1; } }\nabstract class B { abstract void go(); void stop() {} }", ["A.run", "B.go"]],
    ["csharp", "interface I { void Run(); }\nabstract class C { public int X() => 1; public void Y() { } public abstract void Z(); }", ["I.Run", "C.Z"]],
    ["go", "package a\ntype R interface { Read(p []byte) (int, error) }\nfunc (t *T) Get() int { return 1 }", ["R.Read"]],
    ["rust", "trait T { fn a(&self); fn b(&self) -> i32 { 1 } }\nimpl T for S { fn a(&self) {} }", ["T.a"]],
    ["php", "<?php\ninterface I { public function a(); }\nabstract class C { public function b() { return 1; } abstract function c(); }", ["I.a", "C.c"]],
    ["kotlin", "interface Shape {\n  fun area(): Double\n  fun name() = \"shape\"\n}\nabstract class C {\n  abstract fun c()\n  fun d() {}\n}\n", ["Shape.area", "C.c"]],
  ];
  for (const [language, src, declarations] of samples) {
    const r = await parser.parse(language, src);
    const label = (d: Definition) => `${d.container ? `${d.container}.` : ""}${d.name}`;
    assert.deepEqual(r.definitions.filter((d) => d.declarationOnly).map(label), declarations, language);
    assert.ok(r.definitions.filter((d) => !d.declarationOnly && (d.kind === "method" || d.kind === "function")).length >= 1, language);
  }
});

test("JavaScript docs: JSDoc one blank line above, on assignments and const functions; licence headers and loose comments are not docs", async () => {
  const src = [
    "/*!",
    " * express",
    " * MIT Licensed",
    " */",
    "",
    "'use strict';",
    "",
    "/**",
    " * Send a response.",
    " *",
    " * @param {string} body",
    " */",
    "",
    "res.send = function send(body) {};",
    "/** Doubles. */",
    "const double = (x) => x * 2;",
    "// a loose note",
    "",
    "function plain() {}",
    "/** @license MIT */",
    "",
    "function afterHeader() {}",
    "/** Two blank lines away. */",
    "",
    "",
    "function far() {}",
    "/**",
    " * Parse the query string.",
    " */",
    "",
    "defineGetter(req, 'query', function query() {});",
    "app.get('/', (req, res) => res.send('anonymous callbacks define nothing'));",
  ].join("\n");
  const r = await parser.parse("javascript", src);
  const doc = (name: string) => r.definitions.find((d) => d.name === name)?.doc;
  assert.equal(doc("send"), "Send a response.\n\n@param {string} body");
  assert.equal(doc("double"), "Doubles.");
  assert.equal(doc("plain"), "");
  assert.equal(doc("afterHeader"), "");
  assert.equal(doc("far"), "");
  // A named function passed to a call defines its name (Express's request getters), documented above the statement.
  assert.equal(doc("query"), "Parse the query string.");
  assert.deepEqual(r.definitions.map((d) => d.name).sort(), ["afterHeader", "double", "far", "plain", "query", "send"]);
});

test("Python: classes, methods with docstrings, decorated methods, functions, imports", async () => {
  const src = [
    "import os",
    "from billing.rates import tax_rate",
    "class Invoice:",
    '    """An invoice."""',
    "    @property",
    "    def total(self):",
    '        """Sum of lines."""',
    "        return tax_rate(os.sep)",
    "# Formats money.",
    "def format_money(x):",
    "    return str(x)",
  ].join("\n");
  const r = await parser.parse("python", src);
  assert.deepEqual(summary(r.definitions), [
    `class:Invoice@${lineOf(src, "class Invoice")}`,
    `method:Invoice.total@${lineOf(src, "def total")}`,
    `function:format_money@${lineOf(src, "def format_money")}`,
  ]);
  assert.equal(r.definitions[0].doc, "An invoice.");
  assert.equal(r.definitions[1].doc, "Sum of lines.");
  assert.equal(r.definitions[2].doc, "Formats money.");
  assert.deepEqual(r.imports.map((i) => i.source), ["os", "billing.rates"]);
});

test("Python: @overload stubs are declarations; the implementation after them keeps its body and docstring", async () => {
  const src = [
    "import typing as t",
    "from typing import overload",
    "class Context:",
    "    @t.overload",
    "    def invoke(self, callback: int) -> int: ...",
    "    @typing.overload",
    "    def invoke(self, callback: str) -> str: ...",
    "    def invoke(self, callback):",
    '        """Invokes a command callback."""',
    "        return callback",
    "@overload",
    "def load(x: int) -> int: ...",
    "@functools.cache",
    "def load(x):",
    "    return x",
  ].join("\n");
  const r = await parser.parse("python", src);
  const invoke = r.definitions.filter((d) => d.name === "invoke");
  assert.deepEqual(invoke.map((d) => [d.nameLine + 1, !!d.declarationOnly]), [[lineOf(src, "callback: int"), true], [lineOf(src, "callback: str"), true], [lineOf(src, "def invoke(self, callback):"), false]]);
  assert.equal(invoke[2].doc, "Invokes a command callback.");
  // Another decorator is no overload.
  assert.deepEqual(r.definitions.filter((d) => d.name === "load").map((d) => !!d.declarationOnly), [true, false]);
});

test("Go, Rust, Java, C and C++ definitions and imports", async () => {
  const cases: Array<[string, string, string[], string[]]> = [
    [
      "go",
      'package main\nimport "fmt"\n// Sum adds.\nfunc Sum(a, b int) int { return a + b }\ntype Store struct{}\nfunc (s *Store) Get() {}\ntype Getter interface { Get() }\n',
      ["function:Sum@4", "class:Store@5", "method:Store.Get@6", "interface:Getter@7", "method:Getter.Get@7"],
      ["fmt"],
    ],
    [
      "rust",
      "use std::io;\n/// A point.\n#[derive(Debug)]\npub struct Point { x: i32 }\nimpl Point {\n    pub fn norm(&self) -> i32 { self.x }\n}\ntrait Shape { fn area(&self) -> f64; }\nfn main() {}\nimpl<T> List<T> {\n    fn split_off(&mut self) {}\n}\n",
      ["class:Point@4", "method:Point.norm@6", "interface:Shape@8", "method:Shape.area@8", "function:main@9", "method:List.split_off@11"],
      ["std::io"],
    ],
    [
      "java",
      "import java.util.List;\n/** A repo. */\npublic class Repo {\n  public List<String> all() { return null; }\n}\ninterface Named { String name(); }\n",
      ["class:Repo@3", "method:Repo.all@4", "interface:Named@6", "method:Named.name@6"],
      ["java.util.List"],
    ],
    [
      "c",
      "#include <stdio.h>\n/* Adds. */\nint add(int a, int b) { return a + b; }\nint later(void);\nstruct point { int x; };\n#define SQR(x) ((x)*(x))\n#define LIMIT 42\n",
      ["function:add@3", "function:later@4", "class:point@5", "macro:SQR@6", "macro:LIMIT@7"],
      ["stdio.h"],
    ],
    [
      "cpp",
      '#include "widget.h"\nnamespace ui {\nclass Widget {\n public:\n  void draw();\n};\n}\nvoid ui::Widget::draw() {}\n',
      ["module:ui@2", "class:ui.Widget@3", "method:Widget.draw@5", "method:ui::Widget.draw@8"],
      ["widget.h"],
    ],
  ];
  for (const [lang, src, defs, imports] of cases) {
    const r = await parser.parse(lang, src);
    assert.deepEqual(summary(r.definitions), defs, lang);
    assert.deepEqual(r.imports.map((i) => i.source), imports, lang);
  }
  const c = await parser.parse("c", cases[3][1]);
  assert.equal(c.definitions.find((d) => d.name === "later")!.declarationOnly, true);
  assert.equal(c.definitions.find((d) => d.name === "add")!.doc, "Adds.");
});

test("C#, Ruby, PHP and Kotlin: definitions with containers, doc comments (XML docs as text), signatures and imports", async () => {
  const csharp = [
    "using System;",
    "using System.Collections.Generic;",
    "namespace Billing.Core",
    "{",
    "    /// <summary>Computes totals of <see cref=\"T:Billing.Line\"/> items.</summary>",
    "    /// <param name=\"x\">The seed.</param>",
    "    public class Invoice",
    "    {",
    "        /// <summary>Adds a line.</summary>",
    "        [Obsolete]",
    "        public void Add(int line) { Total(); }",
    "        public int Total => 0;",
    "    }",
    "    public interface IStore { void Save(Invoice i); }",
    "    public struct Point { public int X; }",
    "    public enum Color { Red }",
    "    public record Person(string Name);",
    "}",
  ].join("\n");
  const cs = await parser.parse("csharp", csharp);
  assert.equal(cs.hasErrors, false);
  assert.deepEqual(summary(cs.definitions), [
    "module:Billing.Core@3", "class:Invoice@7", "method:Invoice.Add@11", "method:Invoice.Total@12", "interface:IStore@14",
    "method:IStore.Save@14", "class:Point@15", "enum:Color@16", "class:Person@17",
  ]);
  const invoice = cs.definitions.find((d) => d.name === "Invoice")!;
  assert.equal(invoice.doc, "Computes totals of Billing.Line items.\n@param x The seed.");
  assert.equal(cs.definitions.find((d) => d.name === "Add")!.doc, "Adds a line.");
  assert.deepEqual(cs.imports.map((i) => i.source), ["System", "System.Collections.Generic"]);

  const ruby = [
    'require "json"',
    'require_relative "billing/line"',
    "module Billing",
    "  # Computes the invoice total.",
    "  class Invoice < Base",
    "    # Adds a line.",
    "    def add(line)",
    "      total",
    "    end",
    "",
    "    def self.build(x) = new(x)",
    "  end",
    "  class Ledger::Entry",
    "  end",
    "end",
    "def helper(a)",
    "  a",
    "end",
  ].join("\n");
  const rb = await parser.parse("ruby", ruby);
  assert.deepEqual(summary(rb.definitions), ["module:Billing@3", "class:Billing.Invoice@5", "method:Invoice.add@7", "method:Invoice.build@11", "class:Billing.Entry@13", "method:helper@16"]);
  const rbInvoice = rb.definitions.find((d) => d.name === "Invoice")!;
  assert.equal(rbInvoice.doc, "Computes the invoice total.");
  assert.equal(rb.definitions.find((d) => d.name === "Billing")!.signature, "module Billing", "the class's doc is not the module's signature");
  assert.equal(rb.definitions.find((d) => d.name === "add")!.doc, "Adds a line.");
  assert.deepEqual(rb.imports.map((i) => i.source), ["json", "billing/line"]);
  // Ruby names may end in ? or !: `route!` and `route` are different names; `bb != cc` uses bb.
  const refs = (await parser.parse("ruby", "def route!(x)\n  route(x)\nend\nv = a.empty? ? 1 : 2\nw = bb != cc\nz = dd!~ /x/\n")).references;
  assert.deepEqual([refs["route!"], refs["route"], refs["empty?"], refs["bb"], refs["dd"]], [[0], [1], [3], [4], [5]]);
  assert.ok(!("bb!" in refs) && !("dd!" in refs) && !("empty" in refs), Object.keys(refs).join(" "));

  const php = [
    "<?php",
    "namespace App\\Billing;",
    "use App\\Models\\User;",
    "use Illuminate\\Support\\{Collection, Str};",
    "require_once __DIR__ . '/helpers.php';",
    "/**",
    " * Computes totals.",
    " */",
    "class Invoice extends Base",
    "{",
    "    /** Adds a line. */",
    "    public function add(int $line): void { $this->total(); }",
    "}",
    "interface Store { public function save(Invoice $i): void; }",
    "trait Loggable { public function log(string $m) {} }",
    "function helper($a) { return $a; }",
  ].join("\n");
  const ph = await parser.parse("php", php);
  assert.deepEqual(summary(ph.definitions), ["class:Invoice@9", "method:Invoice.add@12", "interface:Store@14", "method:Store.save@14", "interface:Loggable@15", "method:Loggable.log@15", "function:helper@16"]);
  assert.equal(ph.definitions[0].doc, "Computes totals.");
  assert.equal(ph.definitions[1].signature, "public function add(int $line): void");
  assert.deepEqual(ph.imports.map((i) => i.source), ["App\\Models\\User", "Illuminate\\Support", "/helpers.php"]);

  const kotlin = [
    "package com.example.billing",
    "import kotlin.math.max",
    "/** Computes totals. */",
    "class InvoiceService(private val repo: Repo) : Service {",
    "    /** Adds a line. */",
    "    fun add(line: Int): Int {",
    "        return line",
    "    }",
    "    companion object {",
    "        fun create(): InvoiceService = InvoiceService(Repo())",
    "    }",
    "}",
    "interface Repo {",
    "    fun save(i: Int)",
    "}",
    "object Registry {",
    "    fun lookup(name: String) = name",
    "}",
    "enum class Color { RED }",
    "typealias Handler = (Int) -> Unit",
    "fun topLevel(a: Int) = a + 1",
  ].join("\n");
  const kt = await parser.parse("kotlin", kotlin);
  assert.equal(kt.hasErrors, false);
  assert.deepEqual(summary(kt.definitions), [
    "class:InvoiceService@4", "method:InvoiceService.add@6", "method:InvoiceService.create@10", "interface:Repo@13", "method:Repo.save@14",
    "class:Registry@16", "method:Registry.lookup@17", "class:Color@19", "type:Handler@20", "function:topLevel@21",
  ]);
  assert.equal(kt.definitions[0].doc, "Computes totals.");
  assert.equal(kt.definitions[0].signature, "class InvoiceService(private val repo: Repo) : Service", "a signature ends where the class body begins");
  assert.equal(kt.definitions[1].doc, "Adds a line.");
  assert.deepEqual(kt.imports.map((i) => i.source), ["kotlin.math.max"]);
});

test("a syntax error still yields the definitions that parse, and hasErrors is set", async () => {
  const r = await parser.parse("typescript", "function ok() {}\nfunction broken( {\n");
  assert.equal(r.hasErrors, true);
  assert.ok(r.definitions.some((d) => d.name === "ok"));
});

test("C: braces split across #if blocks lose no function (the first branch of each conditional is parsed again)", async () => {
  const { firstBranchOnly } = await import("../../model-runtime/src/parse/preprocessor");
  // nginx's shape: a brace opened in one #if block and closed in another, and both branches of an #if opening one.
  const source = [
    "static int ngx_pick_peer(int single, int sid) {", //   0
    "    if (single) {",
    "#if (NGX_SID)",
    "        if (sid == 0) {",
    "#endif",
    "            single++;", //                                5
    "#if (NGX_SID)",
    "        }",
    "#endif",
    "    }",
    "#if (NGX_WIN32)", //                                      10
    "    if (single > 1) {",
    "#else",
    "    if (single > 2 && \\",
    "        sid) {",
    "#endif", //                                               15
    "        single--;",
    "    }",
    "    return single;",
    "}",
    "", //                                                     20
    "static int ngx_after(void) { return 0; }",
    "#ifdef NGX_OTHER",
    "static int ngx_other_only(void) { return 1; }",
    "#else",
    "static int ngx_other_only(void) { return 2; }", //        25
    "#endif",
    "",
  ].join("\n");
  const blanked = firstBranchOnly(source)!;
  assert.equal(blanked.length, source.length);
  assert.deepEqual(blanked.split("\n").map((l) => l.length), source.split("\n").map((l) => l.length), "every line keeps its length");
  const lines = blanked.split("\n");
  for (const i of [2, 4, 6, 8, 10, 12, 13, 14, 15, 22, 24, 25, 26]) assert.equal(lines[i].trim(), "", `line ${i} blanked`);
  for (const i of [3, 7, 11, 23]) assert.equal(lines[i], source.split("\n")[i], `line ${i} kept`);
  assert.equal(firstBranchOnly("int f(void) { return 0; }\n#define X 1\n"), undefined);
  const r = await parser.parse("c", source);
  const names = r.definitions.map((d) => `${d.name}@${d.startLine}-${d.endLine}`);
  assert.ok(names.includes("ngx_pick_peer@0-19"), names.join(" "));
  assert.ok(names.includes("ngx_after@21-21"), names.join(" "));
  // Both versions of a function defined per platform are kept (the later one from the first parse).
  assert.deepEqual(r.definitions.filter((d) => d.name === "ngx_other_only").map((d) => d.nameLine), [23, 25]);
});

test("non-ASCII text before a definition keeps its line right", async () => {
  const src = "// héllo 😀 wörld\nconst s = '日本語';\nfunction after() {}\n";
  const r = await parser.parse("javascript", src);
  assert.equal(r.definitions[0].name, "after");
  assert.equal(r.definitions[0].nameLine, 2);
  assert.equal(r.definitions[0].signature, "function after()");
});

test("doc comment cleaning strips markers", () => {
  assert.equal(cleanDocComment("/**\n * First.\n * Second.\n */"), "First.\nSecond.");
  assert.equal(cleanDocComment("/// one\n/// two"), "one\ntwo");
  assert.equal(cleanDocComment("# py comment"), "py comment");
});

test("languageForPath maps extensions and leaves unknown files as text", () => {
  assert.equal(languageForPath("src/a.tsx"), "tsx");
  assert.equal(languageForPath("x/y.PY"), "python");
  assert.equal(languageForPath("include/a.h"), "cpp");
  assert.equal(languageForPath("src/Billing/Invoice.cs"), "csharp");
  assert.equal(languageForPath("lib/tasks/db.rake"), "ruby");
  assert.equal(languageForPath("app/Http/Kernel.php"), "php");
  assert.equal(languageForPath("app/src/main/kotlin/Main.kt"), "kotlin");
  assert.equal(languageForPath("README.md"), undefined);
  assert.equal(languageForPath("dir.ts/Makefile"), undefined);
});

test("a name met only in comments and strings is a mention; in code (f-string and template interpolations included) it is a use", async () => {
  // Per language: the source, names only in prose on some line, and names in code on that same line.
  const cases: Array<{ lang: string; src: string; mention: Record<string, number>; code: Record<string, number> }> = [
    {
      lang: "python",
      src: 'def run(ctx):\n    """Call make_response to convert it."""\n    x = f"on {ctx.path} spam_word"  # cheese\n    return make_response(ctx)  # make_response again\n',
      mention: { make_response: 1, convert: 1, spam_word: 2, cheese: 2 },
      code: { ctx: 2, path: 2, make_response: 3 },
    },
    {
      lang: "typescript",
      src: "// é café: helper is old\nconst a = `x ${helper(bar)} word_in_template`; /* helper */\nconst s = 'quoted_name';\nhelper();\n",
      mention: { café: 0, word_in_template: 1, quoted_name: 2 },
      code: { helper: 1, bar: 1 },
    },
    { lang: "go", src: 'package p\n// Sum adds them.\nfunc Sum() int { return len("Sum is raw") + Other() }\n', mention: { adds: 1 }, code: { Other: 2, len: 2 } },
    { lang: "rust", src: '/// Parses a header.\nfn parse() { let s = "header_text"; helper(s); }\n', mention: { Parses: 0, header_text: 1 }, code: { helper: 1 } },
    { lang: "java", src: 'class A {\n  /* calls run */ void go() { log("run twice"); run(); }\n}\n', mention: { twice: 1 }, code: { run: 1, log: 1 } },
    { lang: "cpp", src: '#include <vector_header>\n// frobnicate the thing\nint f() { return frob("text_only"); }\n', mention: { vector_header: 0, frobnicate: 1, text_only: 2 }, code: { frob: 2 } },
  ];
  for (const c of cases) {
    const r = await parser.parse(c.lang, c.src);
    const record = { language: c.lang, references: r.references, mentions: r.mentions } as FileRecord;
    for (const [name, line] of Object.entries(c.mention)) {
      assert.ok(r.references[name]?.includes(line), `${c.lang}: ${name} is a reference on line ${line}`);
      assert.ok(isMention(record, name, line), `${c.lang}: ${name} is only mentioned on line ${line}: ${JSON.stringify(r.mentions)}`);
    }
    for (const [name, line] of Object.entries(c.code)) {
      assert.ok(r.references[name]?.includes(line), `${c.lang}: ${name} is a reference on line ${line}`);
      assert.ok(!isMention(record, name, line), `${c.lang}: ${name} is used in code on line ${line}: ${JSON.stringify(r.mentions)}`);
    }
    // Whole prose lines hold no name in code; the per-name lines are lines where the name occurs; all ascending.
    const ascending = (l: number[]) => l.every((x, i) => i === 0 || l[i - 1] < x);
    assert.ok(ascending(r.mentions.lines));
    for (const [name, lines] of Object.entries(r.mentions.names)) {
      for (const l of lines) assert.ok(r.references[name].includes(l) && !r.mentions.lines.includes(l), `${c.lang}: ${name}@${l}`);
      assert.ok(ascending(lines));
    }
  }
});

test("mentions match a per-occurrence reference on random mixes of code and prose", () => {
  // Random lines of names, each occurrence in code or in prose; the reference decides per (name, line) directly.
  const seed = Number(process.env.TEST_SEED ?? Date.now() % 1e9);
  let x = seed;
  const rand = (n: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % n);
  for (let trial = 0; trial < 100; trial++) {
    const words = ["alpha", "beta", "gamma", "delta"];
    const lines: string[] = [];
    const proseAt: boolean[] = [];
    const occurrences: Array<{ name: string; line: number; prose: boolean }> = [];
    for (let l = 0; l < 1 + rand(6); l++) {
      const parts: string[] = [];
      for (let k = 0; k < rand(5); k++) {
        const name = words[rand(words.length)];
        const prose = rand(2) === 1;
        const at = lines.join("\n").length + (lines.length ? 1 : 0) + parts.join(" ").length + (parts.length ? 1 : 0);
        for (let i = 0; i < name.length; i++) proseAt[at + i] = prose;
        occurrences.push({ name, line: l, prose });
        parts.push(name);
      }
      lines.push(parts.join(" "));
    }
    const text = lines.join("\n");
    const mask = Uint8Array.from({ length: text.length }, (_, i) => (proseAt[i] ? 1 : 0));
    const r = lexicalReferences(text, mask);
    const record = { language: "python", references: r.references, mentions: r.mentions } as FileRecord;
    for (const o of occurrences) {
      const onlyProse = occurrences.filter((p) => p.name === o.name && p.line === o.line).every((p) => p.prose);
      assert.equal(isMention(record, o.name, o.line), onlyProse, JSON.stringify({ seed, text, o }));
      assert.ok(r.references[o.name].includes(o.line));
    }
  }
});

test("lexicalReferences: names the code uses only as members (after ., -> or ?.), not after :: or a spread, nor in prose", () => {
  const text = [
    "r->main; x.send(); main(); a?.maybe; f(...spread); std::sort(v);",
    "obj . spaced; obj\t->tabbed; Vec::new(); 0..limit; obj.both; both();",
    "// comment.only appears as a member in prose",
  ].join("\n");
  const proseStart = text.indexOf("// comment");
  const mask = Uint8Array.from({ length: text.length }, (_, i) => (i >= proseStart ? 1 : 0));
  const { memberOnly, memberQualifiers } = lexicalReferences(text, mask);
  assert.deepEqual([...memberOnly].sort(), ["maybe", "send", "spaced", "tabbed"]);
  assert.deepEqual(memberQualifiers.send, ["x"]);
  assert.deepEqual(memberQualifiers.maybe, ["a"], "after ?.");
  assert.deepEqual(memberQualifiers.tabbed, [""], "-> is not a module's");
});

test("lexicalReferences: what is written before a member's dot, line by line; a definition's own name is not a bare use", () => {
  const text = [
    "class Compiled:",
    "    def warn(self):",
    "        util.warn('x')",
    "    def other(self):",
    "        linter.warn(); get().warn()",
    "        util.warn('y')",
  ].join("\n");
  const definitions = [{ name: "warn", nameLine: 1 }, { name: "other", nameLine: 3 }] as unknown as Definition[];
  const { memberOnly, memberQualifiers, references } = lexicalReferences(text, undefined, "python", definitions);
  assert.ok(memberOnly.includes("warn"), "`def warn` names it; every use follows a dot");
  assert.deepEqual(references.warn, [1, 2, 4, 5]);
  assert.deepEqual(memberQualifiers.warn, ["", "util", "", "util"], "one per line: the def line, util, two different ones, util");
  assert.ok(!lexicalReferences(text, undefined, "python").memberOnly.includes("warn"), "without the definitions, `def warn` is bare");
});

test("lexicalReferences: the lines where a name is called — parentheses, type arguments, decorators, JSX, tagged templates — not where it is passed or read", () => {
  const ts = lexicalReferences("run(x);\nitems.each(cb);\nobj.prop;\nparse<Foo> (s);\nconst y = cb;\ncb ();\n", undefined, "typescript").calls!;
  assert.deepEqual(ts.run, [0]);
  assert.deepEqual(ts.each, [1]);
  assert.deepEqual(ts.cb, [5], "passed on line 1, read on line 4, called on line 5");
  assert.ok(!Object.hasOwn(ts, "prop"));
  assert.deepEqual(ts.parse, [3]);
  assert.deepEqual(lexicalReferences("const a = html`<b>${x}</b>`;\nreturn <Layout title={t} />;\n", undefined, "tsx").calls!.Layout, [1]);
  assert.deepEqual(lexicalReferences("@cached\ndef f(): pass\n", undefined, "python").calls!.cached, [0]);
  assert.deepEqual(lexicalReferences("let v = parse::<u8>(s);\n", undefined, "rust").calls!.parse, [0]);
  assert.equal(lexicalReferences("render json: x\n", undefined, "ruby").calls, undefined, "Ruby calls without parentheses: no call lines");
});

test("variables: names bound outside every function, in every grammar that has them; not locals, not a const holding a function", async () => {
  const parser = new SourceParser();
  const cases: Array<[string, string, string[]]> = [
    ["python", "LIMIT = 10\n\nclass C:\n    attr = 2\n    def m(self):\n        x = 3\n\ndef f():\n    y = 1\n", ["LIMIT@0", "C.attr@3"]],
    ["typescript", "export const MAX = 10;\nlet state = init();\nconst arrow = () => 1;\nfunction g() {\n  const inner = 1;\n}\n", ["MAX@0", "state@1"]],
    ["javascript", "var count = 0;\nconst { a } = require('x');\nfunction h() { var z = 1; }\n", ["count@0", "a@1"]],
    ["go", "package a\n\nconst Max = 10\n\nvar (\n\tErrBad = errors.New(\"x\")\n)\n\nfunc F() {\n\tconst k = 1\n\tv := 2\n}\n", ["Max@2", "ErrBad@5"]],
    ["rust", "pub const MAX: u32 = 1;\nstatic NAME: &str = \"x\";\nfn f() {\n    let y = 1;\n    const Z: u8 = 2;\n}\n", ["MAX@0", "NAME@1"]],
    ["java", "class A {\n  static final int MAX = 1;\n  private String name;\n  void m() { int z = 1; }\n}\n", ["A.MAX@1", "A.name@2"]],
    ["c", "int counter = 0;\nint f(void) {\n  int local = 1;\n  return local;\n}\n", ["counter@0"]],
    ["ruby", "VERSION = '1'\nclass K\n  LIMIT = 5\n  def m\n    x = 1\n  end\nend\n", ["VERSION@0", "K.LIMIT@2"]],
  ];
  for (const [language, code, expected] of cases) {
    const parsed = await parser.parse(language, code);
    assert.deepEqual(parsed.variables.map((v) => `${v.container ? `${v.container}.` : ""}${v.name}@${v.line}`), expected, language);
  }
  const go = await parser.parse("go", cases[3][1]);
  assert.equal(go.variables[1].text, 'ErrBad = errors.New("x")', "the binding's line, collapsed");
  assert.deepEqual(go.definitions.find((d) => d.name === "F")?.locals?.sort(), ["k", "v"], "a const inside a function stays its local");
});

test("a function's parameters, in every grammar: the names they bind, not their types, defaults or decorators", async () => {
  const cases: Array<[string, string, string, string[]]> = [
    ["typescript", "export const serveStatic = <E extends Env = Env>(\n  options: Options<E> & { onError?: (e: Error) => void },\n  { root, path: renamed }: Paths = defaults(),\n  ...rest: Handler[]\n): Handler => {\n  const inner = (x: number) => x;\n  return inner;\n};", "serveStatic", ["options", "root", "renamed", "rest"]],
    ["typescript", "class C {\n  handle(@Inject() svc: Service, cb?: () => void) {}\n}", "handle", ["svc", "cb"]],
    ["javascript", "const twice = x => x * 2;\nres.send = function send(body) {};", "twice", ["x"]],
    ["python", "def dispatch(self, ctx: AppContext, *args: t.Any, handler=default_handler, **kwargs) -> Response:\n    def inner(z):\n        pass", "dispatch", ["self", "ctx", "args", "handler", "kwargs"]],
    ["go", "func (c *Context) ShouldBindWith(obj any, b binding.Binding) error { return nil }", "ShouldBindWith", ["c", "obj", "b"]],
    ["rust", "fn search_path<M: Matcher>(&mut self, matcher: M, path: &Path, (a, b): (i32, i32)) -> io::Result<()> { Ok(()) }", "search_path", ["matcher", "path", "a", "b"]],
    ["c", "ngx_int_t ngx_parse(ngx_http_request_t *r, void (*handler)(int), ngx_uint_t keep) { return 0; }", "ngx_parse", ["r", "handler", "keep"]],
    ["java", "class A { public String toJson(final Object src, @Nullable Type typeOfSrc, String... parts) { return null; } }", "toJson", ["src", "typeOfSrc", "parts"]],
    ["csharp", "class A { public void Write(JsonWriter writer, object value, int depth = 0) {} }", "Write", ["writer", "value", "depth"]],
    ["ruby", "def route!(base = settings, *args, key:, &block)\nend", "route!", ["base", "args", "key", "block"]],
    ["php", "<?php class A { public function handle(Request $request, Closure $next) {} }", "handle", ["request", "next"]],
    ["kotlin", "fun fetch(url: String, retries: Int = 3, onDone: (Int) -> Unit): Unit {}", "fetch", ["url", "retries", "onDone"]],
  ];
  for (const [language, src, name, expected] of cases) {
    const def = (await parser.parse(language, src)).definitions.find((d) => d.name === name);
    assert.ok(def, `${language}: ${name} not found`);
    assert.deepEqual(def.parameters ?? [], expected, `${language}: ${name}`);
  }
  const noParams = (await parser.parse("python", "def f():\n    pass\nclass K:\n    pass\n")).definitions;
  assert.ok(noParams.every((d) => d.parameters === undefined), "none recorded for a function without parameters or a class");
});

test("JavaScript's private names keep their #: `this.#dispatch()` uses #dispatch, not dispatch", () => {
  const text = "class A {\n  #dispatch() {}\n  run() { return this.#dispatch(); }\n}\n";
  const { references } = lexicalReferences(text, undefined, "typescript");
  assert.deepEqual(references["#dispatch"], [1, 2]);
  assert.equal(references["dispatch"], undefined);
  assert.deepEqual(lexicalReferences("x = ab#cd\n", undefined, "python").references.cd, [0], "no # names outside JavaScript");
});

test("a function's local variables, in every grammar: given to the innermost function around them, none at top level", async () => {
  const cases: Array<[string, string, string, string[]]> = [
    ["typescript", "const top = 1;\nfunction f(a) {\n  const handler = make();\n  let { x, y: z } = a;\n  const [p, q] = a;\n  var old = 1;\n  return handler(x);\n}", "f", ["handler", "x", "z", "p", "q", "old"]],
    ["javascript", "function f() {\n  const handler = make();\n  function inner() {\n    const deep = 1;\n  }\n}", "f", ["handler"]],
    ["python", "top = 1\ndef f():\n    handler = make()\n    a, b = 1, 2\n    for item in xs:\n        pass\n    self.x = 3\n", "f", ["handler", "a", "b", "item"]],
    ["go", "package p\nfunc f() {\n\thandler := make1()\n\tvar cfg Config\n\tfor i, v := range xs {\n\t\t_ = v\n\t}\n}", "f", ["handler", "cfg", "i", "v"]],
    ["rust", "fn f() {\n    let handler = make();\n    let mut w = 1;\n    let (a, b) = (1, 2);\n}", "f", ["handler", "w", "a", "b"]],
    ["java", "class A {\n  void f() {\n    Handler handler = make();\n    int a = 1, b = 2;\n  }\n}", "f", ["handler", "a", "b"]],
    ["c", "int f(void) {\n  int handler = make();\n  char *buf = 0;\n  ngx_int_t rc;\n  return rc;\n}", "f", ["handler", "buf", "rc"]],
    ["csharp", "class A {\n  void F() {\n    var handler = Make();\n    int a = 1;\n  }\n}", "F", ["handler", "a"]],
    ["ruby", "def f\n  handler = make\nend\n", "f", ["handler"]],
    ["php", "<?php\nfunction f() {\n  $handler = make();\n}\n", "f", ["handler"]],
    ["kotlin", "fun f() {\n  val handler = make()\n  var x = 1\n}", "f", ["handler", "x"]],
  ];
  for (const [language, src, name, expected] of cases) {
    const defs = (await parser.parse(language, src)).definitions;
    const def = defs.find((d) => d.name === name);
    assert.ok(def, `${language}: ${name} not found`);
    assert.deepEqual(def.locals ?? [], expected, `${language}: ${name}`);
  }
  const inner = (await parser.parse("javascript", cases[1][1])).definitions.find((d) => d.name === "inner");
  assert.deepEqual(inner?.locals, ["deep"], "a nested function's locals are its own");
});
