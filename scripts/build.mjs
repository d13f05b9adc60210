// One build for everything that ships or runs from dist/: the extension host bundle, the CLI, the index
// worker, the webview (browser target), the benchmarks, the .wasm files they load at run time, and the native
// addons built on this machine (dist/native/<platform>-<arch>/).
// usage: node scripts/build.mjs [--watch] [--production]
import * as esbuild from "esbuild";
import { spawnSync } from "node:child_process";
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
  external: ["vscode", "webgpu", "onnxruntime-node", "*.node", "typescript"],
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

// The CPU addons — attention (kernels/cpu) and the engine's dense ops (engine/native) — are what make the model
// usable on a CPU: ~4,000 tokens/s of prefill on 2 cores against ~15 with the TypeScript kernels, i.e. seconds
// against hours for the 128k tokens the CLI reads. So the build compiles them when they are missing or older than
// their sources (README's `npm ci && npm run build && node dist/cli.js ask …` on a fresh machine; `npm ci` builds
// none of our own code). A failed compile (no g++, no Node headers) is a notice: the TypeScript kernels remain the
// fallback. The CUDA build stays separate (`npm run build:cuda`: minutes of nvcc, useless without a GPU).
// LONGVIEW_SKIP_NATIVE_BUILD=1 skips this step.
const CPU_ADDONS = [
  { output: "kernels/cpu/build/Release/longview_cpu.node", sources: ["kernels/cpu/binding.gyp", "kernels/cpu/src"], script: "kernels/cpu/build-addon.mjs" },
  {
    output: "model-runtime/src/engine/native/build/Release/longview_dense.node",
    sources: ["model-runtime/src/engine/native/binding.gyp", "model-runtime/src/engine/native/src", "kernels/cpu/src"],
    script: "model-runtime/src/engine/native/build.mjs",
  },
];
function newestMtime(rel) {
  const abs = path.join(root, rel);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...fs.readdirSync(abs).map((f) => newestMtime(path.join(rel, f))));
}
function buildCpuAddons() {
  if (process.env.LONGVIEW_SKIP_NATIVE_BUILD === "1") return;
  for (const a of CPU_ADDONS) {
    const built = fs.statSync(path.join(root, a.output), { throwIfNoEntry: false });
    if (built && built.mtimeMs >= Math.max(...a.sources.map(newestMtime))) continue;
    console.log(`native: building ${a.output} (${built ? "sources changed" : "not built yet"})…`);
    const r = spawnSync(process.execPath, [path.join(root, a.script)], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) {
      // node-gyp ends with generic lines; the cause is its first "Error: …" (no Python, no compiler) or a compiler error.
      const lines = `${r.stderr ?? ""}\n${r.stdout ?? ""}`.split("\n");
      const why = (lines.find((l) => /\bError: /.test(l)) ?? lines.find((l) => /\berror\b/i.test(l)) ?? `exit ${r.status}`).replace(/^gyp ERR! stack /, "").trim();
      console.log(`native: ${a.output} could not be built (${why}); the TypeScript kernels stand in (slow). \`node ${a.script}\` shows the whole log`);
    }
  }
}

// The native addons this machine has built → dist/native/<platform>-<arch>/ (the folder the loaders look in first
// after their env override: kernels/native-addon.ts bundledAddonPath), so the VSIX carries them. Every .node a
// build folder holds is copied (several ISA variants, if a build ever makes them). None built is not an error:
// the TypeScript kernels stay the fallback. The CUDA addon links cudart statically; a large one stays out.
const NATIVE_BUILDS = ["kernels/cpu/build/Release", "model-runtime/src/engine/native/build/Release", "kernels/cuda/build/Release"];
const NATIVE_MAX_BYTES = 10 * 1024 * 1024;
function copyNativeAddons() {
  const platformDir = `${process.platform}-${process.arch}`;
  const out = path.join(dist, "native", platformDir);
  fs.rmSync(out, { recursive: true, force: true }); // an addon removed from its build must not linger in the VSIX
  const copied = [];
  const skipped = [];
  for (const rel of NATIVE_BUILDS) {
    const dir = path.join(root, rel);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".node")).sort()) {
      const size = fs.statSync(path.join(dir, name)).size;
      const mb = (size / 1048576).toFixed(1);
      if (size > NATIVE_MAX_BYTES) {
        skipped.push(`${name} (${mb} MB > ${NATIVE_MAX_BYTES / 1048576} MB)`);
        continue;
      }
      fs.mkdirSync(out, { recursive: true });
      fs.copyFileSync(path.join(dir, name), path.join(out, name));
      copied.push(`${name} (${mb} MB)`);
    }
  }
  const note = copied.length ? `${path.relative(root, out)}: ${copied.join(", ")}` : "none built (TypeScript kernels only)";
  console.log(`native addons → ${note}${skipped.length ? `; skipped ${skipped.join(", ")}` : ""}`);
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
buildCpuAddons();
copyNativeAddons();
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log("watching…");
} else {
  const t0 = Date.now();
  await Promise.all(builds.map((b) => esbuild.build(b)));
  fs.chmodSync(path.join(dist, "cli.js"), 0o755);
  console.log(`built ${builds.length} bundles in ${Date.now() - t0} ms`);
}
