// Builds model-runtime/src/engine/native/build/Release/longview_dense.node with the node-gyp from node_modules,
// against the headers of the Node.js running this script when they are installed next to it (no download).
// usage: node model-runtime/src/engine/native/build.mjs [--if-missing]   (npm run build:native-engine)
// Concurrent runs (test files run in parallel) take turns through a lock directory; with --if-missing a run that
// finds the addon already built (by the one it waited for) does nothing.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../../..");
const nodeGyp = path.join(root, "node_modules/node-gyp/bin/node-gyp.js");
if (!fs.existsSync(nodeGyp)) {
  console.error("build:native-engine: node-gyp is missing; run `npm ci` first");
  process.exit(1);
}
const output = path.join(here, "build/Release/longview_dense.node");
const lock = path.join(here, ".build-lock");
const waitUntil = Date.now() + 300_000;
for (;;) {
  try {
    fs.mkdirSync(lock);
    break;
  } catch (e) {
    if (e.code !== "EEXIST") throw e;
    // A lock older than the longest build is left over from a killed run.
    if (Date.now() - fs.statSync(lock).mtimeMs > 300_000) fs.rmSync(lock, { recursive: true, force: true });
    else if (Date.now() > waitUntil) {
      console.error(`build:native-engine: ${lock} is held by another build; remove it if no build is running`);
      process.exit(1);
    } else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}
process.on("exit", () => fs.rmSync(lock, { recursive: true, force: true }));
if (process.argv.includes("--if-missing") && fs.existsSync(output)) {
  console.log(`build:native-engine: ${path.relative(root, output)} already built`);
  process.exit(0);
}
const args = [nodeGyp, "rebuild", "--directory", here, `--jobs=${Math.max(1, os.availableParallelism?.() ?? os.cpus().length)}`];
const localHeaders = path.resolve(process.execPath, "../../include/node/node_api.h");
if (!process.env.npm_config_nodedir && fs.existsSync(localHeaders)) args.push(`--nodedir=${path.resolve(process.execPath, "../..")}`);
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { stdio: "inherit", cwd: root });
if (r.status !== 0) process.exit(r.status ?? 1);
console.log(`build:native-engine: ${path.relative(root, output)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
