// Builds kernels/cpu/build/Release/longview_cpu.node with the node-gyp from node_modules, against the
// headers of the Node.js that runs this script when they are installed next to it (no header download).
// usage: node kernels/cpu/build-addon.mjs   (npm run build:native)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const nodeGyp = path.join(root, "node_modules/node-gyp/bin/node-gyp.js");
if (!fs.existsSync(nodeGyp)) {
  console.error("build:native: node-gyp is missing; run `npm ci` first");
  process.exit(1);
}
const args = [nodeGyp, "rebuild", "--directory", here, `--jobs=${Math.max(1, os.availableParallelism?.() ?? os.cpus().length)}`];
const localHeaders = path.resolve(process.execPath, "../../include/node/node_api.h");
if (!process.env.npm_config_nodedir && fs.existsSync(localHeaders)) args.push(`--nodedir=${path.resolve(process.execPath, "../..")}`);
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { stdio: "inherit", cwd: root });
if (r.status !== 0) process.exit(r.status ?? 1);
console.log(`build:native: ${path.relative(root, path.join(here, "build/Release/longview_cpu.node"))} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
