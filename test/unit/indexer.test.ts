import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { Indexer } from "../../model-runtime/src/index/indexer";
import { SHARD_COUNT } from "../../model-runtime/src/index/store";
import { walkRoot } from "../../model-runtime/src/workspace/walker";
import { isPathIndexable } from "../../model-runtime/src/workspace/ignore-rules";
import { makeTree, removeTree, writeFile } from "../helpers/tmp-tree";

const trees: string[] = [];
after(() => trees.forEach(removeTree));
function tree(files: Record<string, string | Uint8Array>): string {
  const dir = makeTree(files);
  trees.push(dir);
  return dir;
}

const walkDefaults = { exclude: [], include: [], useGitignore: true };

test("walker honours nested .gitignore, .git/info/exclude, exclude and include globs", async () => {
  const dir = tree({
    ".gitignore": "build/\n*.log\n",
    ".git/info/exclude": "secret.ts\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    "src/a.ts": "export const a = 1;",
    "src/debug.log": "log",
    "src/nested/.gitignore": "gen_*.ts\n!gen_keep.ts\n",
    "src/nested/gen_x.ts": "x",
    "src/nested/gen_keep.ts": "k",
    "src/nested/real.py": "def f(): pass",
    "build/out.js": "b",
    "secret.ts": "s",
    "vendor/lib.go": "package lib",
    "docs/readme.md": "# hi",
  });
  const all = await walkRoot({ name: "r", path: dir }, walkDefaults);
  assert.deepEqual(
    all.files.map((f) => f.path),
    [".gitignore", "docs/readme.md", "src/a.ts", "src/nested/.gitignore", "src/nested/gen_keep.ts", "src/nested/real.py", "vendor/lib.go"],
  );
  const excluded = await walkRoot({ name: "r", path: dir }, { ...walkDefaults, exclude: ["**/vendor", "**/*.md"] });
  assert.ok(!excluded.files.some((f) => f.path.startsWith("vendor/") || f.path.endsWith(".md")));
  const included = await walkRoot({ name: "r", path: dir }, { ...walkDefaults, include: ["src/**/*.py"] });
  assert.deepEqual(included.files.map((f) => f.path), ["src/nested/real.py"]);
  const noGit = await walkRoot({ name: "r", path: dir }, { ...walkDefaults, useGitignore: false });
  assert.ok(noGit.files.some((f) => f.path === "build/out.js"));
  // The one-path check used for watcher events agrees with the walk on every file of the tree.
  for (const rel of ["src/a.ts", "src/debug.log", "src/nested/gen_x.ts", "src/nested/gen_keep.ts", "build/out.js", "secret.ts", ".git/HEAD"]) {
    const walked = all.files.some((f) => f.path === rel);
    assert.equal(isPathIndexable({ name: "r", path: dir }, rel, walkDefaults), walked, rel);
  }
});

test("walker survives a symlink loop and a broken symlink, reporting both", async () => {
  const dir = tree({ "a/file.ts": "export function inA() {}" });
  fs.symlinkSync(path.join(dir, "a"), path.join(dir, "a", "loop"));
  fs.symlinkSync(path.join(dir, "missing-target"), path.join(dir, "broken.ts"));
  const r = await walkRoot({ name: "r", path: dir }, walkDefaults);
  assert.deepEqual(r.files.map((f) => f.path), ["a/file.ts"]);
  const reasons = Object.fromEntries(r.skipped.map((s) => [s.path, s.reason]));
  assert.equal(reasons["a/loop"], "not-a-file");
  assert.equal(reasons["broken.ts"], "unreadable");
});

test("full build, stored index reuse, incremental update and deletion", async () => {
  const dir = tree({
    "src/billing.ts": 'import { rate } from "./rates";\nexport function computeTotal(x: number) { return x * rate(); }\n',
    "src/rates.ts": "export function rate() { return 2; }\n",
    "app.py": "from src import billing\n\ndef main():\n    return billing\n",
    "logo.png": new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]),
  });
  const store = path.join(dir, ".store");
  const log: string[] = [];
  const first = new Indexer({ roots: [{ name: "ws", path: dir }], storeDir: store, threads: 1, log: (m) => log.push(m), options: { exclude: ["**/.store"] } });
  const r1 = await first.build();
  assert.equal(r1.parsed, 4);
  assert.equal(first.index.getSkipped("ws", "logo.png")?.reason, "binary");
  assert.deepEqual(first.index.find("computeTotal").map((h) => `${h.path}:${h.definition.nameLine}`), ["src/billing.ts:1"]);
  assert.deepEqual(first.index.references("rate").map((h) => `${h.path}:${h.line}`), ["src/billing.ts:0", "src/billing.ts:1"]);
  await first.dispose();

  // A restart loads the stored index and parses nothing.
  const second = new Indexer({ roots: [{ name: "ws", path: dir }], storeDir: store, threads: 0, options: { exclude: ["**/.store"] } });
  const r2 = await second.build();
  assert.equal(r2.parsed, 0, "neither indexed nor skipped files are read again");
  assert.equal(r2.reused, 4);
  assert.equal(second.index.find("main").length, 1);

  // Edit: a new function appears, an old one disappears; only that file is re-parsed.
  const billing = writeFile(dir, "src/billing.ts", "export function computeInvoice(x: number) { return x; }\n");
  fs.utimesSync(billing, new Date(), new Date(Date.now() + 5000));
  assert.equal(await second.update([billing]), 1);
  assert.equal(second.index.find("computeTotal").length, 0);
  assert.equal(second.index.find("computeInvoice").length, 1);
  // Touch without change: nothing changes.
  fs.utimesSync(billing, new Date(), new Date(Date.now() + 9000));
  assert.equal(await second.update([billing]), 0);
  // Delete.
  fs.rmSync(path.join(dir, "app.py"));
  assert.equal(await second.update([path.join(dir, "app.py")]), 1);
  assert.equal(second.index.find("main").length, 0);
  // Paths outside the roots or ignored are not indexed.
  assert.equal(await second.update([path.join(os.tmpdir(), "elsewhere.ts"), path.join(dir, ".store", "manifest.json")]), 0);
  second.save();
  await second.dispose();

  const third = new Indexer({ roots: [{ name: "ws", path: dir }], storeDir: store, threads: 0, options: { exclude: ["**/.store"] } });
  const r3 = await third.build();
  assert.equal(r3.parsed, 0, "the saved incremental changes are what a restart sees");
  assert.equal(third.index.find("computeInvoice").length, 1);
  assert.equal(third.index.find("main").length, 0);
  await third.dispose();
});

test("a corrupt or truncated store is detected, reported and rebuilt, never thrown", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 40; i++) files[`m${i}.ts`] = `export function fn${i}() { return ${i}; }\n`;
  const dir = tree(files);
  const store = path.join(dir, ".store");
  const opts = { roots: [{ name: "ws", path: dir }], storeDir: store, threads: 0, options: { exclude: ["**/.store"] } };
  const a = new Indexer(opts);
  await a.build();
  await a.dispose();
  const shards = fs.readdirSync(store).filter((f) => f.startsWith("shard-"));
  assert.ok(shards.length > 1 && shards.length <= SHARD_COUNT, `${shards.length} shards`);
  // Flip bytes in one shard, truncate another, garble the manifest of nothing else.
  const victims = shards.filter((s) => fs.statSync(path.join(store, s)).size > 200).slice(0, 2);
  const buf = fs.readFileSync(path.join(store, victims[0]));
  buf[buf.length - 10] ^= 0xff;
  fs.writeFileSync(path.join(store, victims[0]), buf);
  fs.truncateSync(path.join(store, victims[1]), 20);
  const log: string[] = [];
  const b = new Indexer({ ...opts, log: (m) => log.push(m) });
  const r = await b.build();
  assert.ok(log.some((m) => m.includes("checksum mismatch")), log.join("\n"));
  assert.ok(log.some((m) => /shard \d+ ignored/.test(m)));
  assert.ok(r.parsed > 0 && r.parsed < 40, `only the corrupt shards' files are re-parsed (${r.parsed})`);
  for (let i = 0; i < 40; i++) assert.equal(b.index.find(`fn${i}`).length, 1);
  await b.dispose();
  // A garbage manifest: full rebuild, still no throw.
  fs.writeFileSync(path.join(store, "manifest.json"), "{not json");
  const c = new Indexer(opts);
  assert.equal((await c.build()).parsed, 40);
  await c.dispose();
});

test("a build can be cancelled mid-way; the next build completes the index", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) files[`pkg${i % 10}/mod${i}.ts`] = `export function f${i}() { return ${i}; }\n`.repeat(20);
  const dir = tree(files);
  const ix = new Indexer({ roots: [{ name: "ws", path: dir }], threads: 1 });
  const abort = new AbortController();
  let seen = 0;
  await assert.rejects(
    ix.build({
      signal: abort.signal,
      onProgress: (p) => {
        if (p.phase === "parsing" && p.filesDone > 0 && ++seen === 1) abort.abort();
      },
    }),
    (e: Error) => e.name === "AbortError",
  );
  assert.ok(ix.index.size < 300, `cancelled before the end (${ix.index.size} files)`);
  const r = await ix.build();
  assert.equal(ix.index.size, 300);
  assert.ok(r.reused > 0 || r.parsed === 300);
  await ix.dispose();
});

test("worker-pool parsing and in-process parsing give identical records", async () => {
  const dir = tree({
    "a.ts": "export class A { m() {} }\n",
    "b.py": "class B:\n    def m(self): pass\n",
    "c.go": "package c\nfunc C() {}\n",
    "d.rs": "fn d() {}\n",
    "e.txt": "plain text\n",
  });
  const run = async (threads: number) => {
    const ix = new Indexer({ roots: [{ name: "ws", path: dir }], threads });
    await ix.build();
    await ix.dispose();
    return [...ix.index.allFiles()].sort((x, y) => (x.path < y.path ? -1 : 1));
  };
  const inProcess = await run(0);
  const pooled = await run(2);
  assert.equal(inProcess.length, 5);
  assert.deepEqual(pooled, inProcess);
  assert.equal(inProcess.find((f) => f.path === "e.txt")!.language, "text");
});

test("when parse workers cannot start, indexing falls back to the main thread instead of losing files", async () => {
  const dir = tree({ "a.ts": "export function alpha() {}\n", "b.py": "def beta():\n    pass\n" });
  const log: string[] = [];
  process.env.LONGVIEW_INDEX_WORKER = path.join(dir, "no-such-worker.js");
  try {
    const ix = new Indexer({ roots: [{ name: "ws", path: dir }], threads: 2, log: (m) => log.push(m) });
    await ix.build();
    await ix.dispose();
    assert.equal(ix.index.skipped().length, 0, JSON.stringify(ix.index.skipped()));
    assert.equal(ix.index.find("alpha").length, 1);
    assert.equal(ix.index.find("beta").length, 1);
    assert.ok(log.some((m) => m.includes("parse workers unavailable")), log.join("\n"));
  } finally {
    delete process.env.LONGVIEW_INDEX_WORKER;
  }
});

test("bad input: binary, 20 MB minified bundle, non-UTF-8, symlink loop and unreadable file index without error", async () => {
  const dir = tree({
    "ok.ts": "export function fine() {}\n",
    "image.png": new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    "latin1.py": new Uint8Array([...Buffer.from("# caf"), 0xe9, 0x0a, ...Buffer.from("def cafe():\n    pass\n")]),
    "locked.ts": "export function hidden() {}\n",
  });
  // A 20 MB one-line bundle: over the default size limit; with the limit raised it is still caught as minified.
  const chunk = "var a=function(b){return b+1};".repeat(1000);
  const fd = fs.openSync(path.join(dir, "bundle.min.js"), "w");
  for (let written = 0; written < 20 * 1024 * 1024; written += chunk.length) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  fs.mkdirSync(path.join(dir, "loop"));
  fs.symlinkSync(dir, path.join(dir, "loop", "back"));
  fs.chmodSync(path.join(dir, "locked.ts"), 0o000);
  fs.chmodSync(dir, 0o755);

  // Root can read a mode-000 file, so when running as root, index as an unprivileged user: the CLI, for real.
  const cli = path.resolve(__dirname, "../../dist/cli.js");
  assert.ok(fs.existsSync(cli), "dist/cli.js missing: run `npm run build` first");
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const out = execFileSync(process.execPath, [cli, "index", dir, "--no-store", "--json", "--threads", "1"], {
    ...asUser,
    cwd: os.tmpdir(),
    env: { ...process.env, HOME: os.tmpdir() },
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
  const result = JSON.parse(out) as { skipped: Array<{ path: string; reason: string; detail: string }>; stats: { files: number } };
  const reasons = Object.fromEntries(result.skipped.map((s) => [s.path, s.reason]));
  assert.equal(reasons["image.png"], "binary");
  assert.equal(reasons["bundle.min.js"], "too-large");
  assert.equal(reasons["locked.ts"], "unreadable");
  assert.equal(reasons["loop/back"], "not-a-file");
  for (const s of result.skipped) assert.ok(s.detail.length > 0, `skip of ${s.path} has a reason`);
  assert.equal(result.stats.files, 2, "ok.ts and latin1.py are indexed");
  assert.ok(!Object.hasOwn(reasons, "ok.ts") && !Object.hasOwn(reasons, "latin1.py"));

  const log: string[] = [];
  const ix = new Indexer({ roots: [{ name: "ws", path: dir }], threads: 1, log: (m) => log.push(m), options: { maxFileBytes: 64 * 1024 * 1024 } });
  await ix.build();
  await ix.dispose();
  assert.equal(ix.index.skipped().find((s) => s.path === "bundle.min.js")?.reason, "minified");
  const latin = ix.index.get("ws", "latin1.py")!;
  assert.equal(latin.encoding, "latin1");
  assert.deepEqual(latin.definitions.map((d) => `${d.name}@${d.nameLine}`), ["cafe@1"]);
  assert.ok(log.some((m) => m.includes("latin1.py") && m.includes("latin1")));
  assert.ok(log.some((m) => m.includes("skipped ws/image.png: binary")));
});
