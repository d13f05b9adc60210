// One build for everything that ships or runs from dist/: the extension host bundle, the CLI, the index
// worker, the webview (browser target), the benchmarks, and the .wasm files they load at run time.
// usage: node scripts/build.mjs [--watch] [--production]
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

// esbuild would pick web-tree-sitter's ESM build, whose import.meta.url becomes {} in a CJS bundle and breaks
// at run time (../shared/notes/treesitter-webgpu.md). Force its CommonJS build.
const alias = { "web-tree-sitter": path.join(root, "node_modules/web-tree-sitter/web-tree-sitter.cjs") };

const nodeCommon = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  sourcemap: !production,
  minify: production,
  alias,
  // vscode is provided by the host; native addons and dawn are loaded from disk at run time.
  external: ["vscode", "webgpu", "onnxruntime-node", "*.node"],
  logLevel: "warning",
};

/** Node entry points: [source, output relative to dist]. Benchmarks are picked up by name. */
const nodeEntries = [
  ["extension/src/extension.ts", "extension.js"],
  ["model-runtime/src/cli/main.ts", "cli.js"],
  ["model-runtime/src/index/worker.ts", "index-worker.js"],
  ["model-runtime/src/answer/model-worker.ts", "model-worker.js"],
];
for (const dir of ["bench"]) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) continue;
  for (const f of fs.readdirSync(abs)) if (/^bench-.*\.ts$/.test(f)) nodeEntries.push([`${dir}/${f}`, `bench/${f.replace(/\.ts$/, ".js")}`]);
}

function copyRuntimeAssets() {
  const grammars = path.join(dist, "grammars");
  fs.mkdirSync(grammars, { recursive: true });
  fs.copyFileSync(path.join(root, "node_modules/web-tree-sitter/web-tree-sitter.wasm"), path.join(dist, "web-tree-sitter.wasm"));
  const { GRAMMAR_FILES } = JSON.parse(fs.readFileSync(path.join(root, "model-runtime/src/parse/grammar-files.json"), "utf8"));
  for (const rel of GRAMMAR_FILES) fs.copyFileSync(path.join(root, "node_modules", rel), path.join(grammars, path.basename(rel)));
  // Tokenizer and, when present, the default model (model-runtime/assets/model: config.json + model.safetensors)
  // → dist/assets. Only what the runtime loads: the licence records (*.md) stay in the repository.
  // A model removed from the source must not linger in dist/ (the CLI would keep answering with it).
  fs.rmSync(path.join(dist, "assets", "model"), { recursive: true, force: true });
  fs.cpSync(path.join(root, "model-runtime/assets"), path.join(dist, "assets"), { recursive: true, filter: (src) => !src.endsWith(".md") });
  const media = path.join(root, "webview/media");
  if (fs.existsSync(media)) fs.cpSync(media, path.join(dist, "webview"), { recursive: true });
}

const builds = [
  ...nodeEntries
    .filter(([src]) => fs.existsSync(path.join(root, src)))
    .map(([src, out]) => ({
      ...nodeCommon,
      entryPoints: [path.join(root, src)],
      outfile: path.join(dist, out),
      banner: out === "cli.js" ? { js: "#!/usr/bin/env node" } : undefined,
    })),
  {
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2022",
    sourcemap: !production,
    minify: production,
    entryPoints: [path.join(root, "webview/src/main.ts")],
    outfile: path.join(dist, "webview/main.js"),
    logLevel: "warning",
  },
].filter((b) => b.entryPoints.every((e) => fs.existsSync(e)));

fs.mkdirSync(dist, { recursive: true });
copyRuntimeAssets();
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log("watching…");
} else {
  const t0 = Date.now();
  await Promise.all(builds.map((b) => esbuild.build(b)));
  fs.chmodSync(path.join(dist, "cli.js"), 0o755);
  console.log(`built ${builds.length} bundles in ${Date.now() - t0} ms`);
}
