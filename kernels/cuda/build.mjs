// Builds the CUDA backend: nvcc (via make) into build/nvcc, then the Node-API addon with node-gyp into
// build/Release/longview_cuda.node. Needs nvcc and a C++ compiler, no GPU (CI only compiles).
// usage: node kernels/cuda/build.mjs        (LONGVIEW_CUDA_OPTIONAL=1: exit 0 with a notice when nvcc is missing)
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

function findNvcc() {
  const candidates = [process.env.NVCC, process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, "bin/nvcc"), "/usr/local/cuda/bin/nvcc"];
  try {
    candidates.push(execFileSync("sh", ["-c", "command -v nvcc"], { encoding: "utf8" }).trim());
  } catch {
    // not on PATH
  }
  return candidates.find((c) => c && fs.existsSync(c));
}

function run(cmd, args, opts = {}) {
  console.log(`[build:cuda] ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) {
    console.error(`[build:cuda] ${cmd} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

const nvcc = findNvcc();
if (!nvcc) {
  const msg = "[build:cuda] nvcc not found (set NVCC or CUDA_HOME): the CUDA backend was not built";
  if (process.env.LONGVIEW_CUDA_OPTIONAL === "1") {
    console.log(msg + " (optional, skipping)");
    process.exit(0);
  }
  console.error(msg);
  process.exit(1);
}
const cudaHome = path.resolve(path.dirname(fs.realpathSync(nvcc)), "..");
const jobs = String(Math.max(1, os.cpus().length));
run("make", ["-C", here, `-j${jobs}`, `NVCC=${nvcc}`]);

// node-gyp would download Node's headers; use the running Node's own when they are installed beside it.
const gypArgs = [`--directory=${here}`];
const nodePrefix = path.resolve(path.dirname(process.execPath), "..");
const nodedir = process.env.npm_config_nodedir ?? (fs.existsSync(path.join(nodePrefix, "include/node/node_api.h")) ? nodePrefix : undefined);
if (nodedir) gypArgs.push(`--nodedir=${nodedir}`);
const nodeGyp = path.join(root, "node_modules/node-gyp/bin/node-gyp.js");
// node-gyp's Makefile does not track the static library: drop the old addon so it is always relinked.
for (const f of ["build/Release/longview_cuda.node", "build/Release/obj.target/longview_cuda.node"]) fs.rmSync(path.join(here, f), { force: true });
run(process.execPath, [nodeGyp, "configure", ...gypArgs, "--", `-Dcuda_home=${cudaHome}`], { cwd: root });
run(process.execPath, [nodeGyp, "build", ...gypArgs, `--jobs=${jobs}`], { cwd: root });
console.log(`[build:cuda] built ${path.relative(root, path.join(here, "build/Release/longview_cuda.node"))}`);
