/**
 * Node side of the one-call GPU check (kernels/gpu-check/run-on-device.sh): the shared kernel suite on the
 * CUDA addon and on WebGPU, and the WebGPU timings on the CUDA benchmark's shapes. Bundled by
 * kernels/gpu-check/prepare.sh into dist/gpu-check/gpu-check.js, because the GPU machine has Node but no tsx.
 *
 * usage: node dist/gpu-check/gpu-check.js <suite-cuda | suite-webgpu | bench-webgpu> [options]
 *   --json FILE        write the result there (the device script puts it under $OUT)
 *   --budget-s N       start no new phase / shape after N seconds (the first always runs; default 120)
 *   --quick            suites: the quick case list only (a smoke test)
 *   --allow-software   also run WebGPU on a software adapter (lavapipe); otherwise that is a skip
 *   --shapes SPEC      bench-webgpu: mode:length:pattern:H/Hkv,... (default: prefill:64k:strided:16/16,
 *                      decode:128k:strided:32/8 — the shapes of bench_gpu.py that fit WebGPU's 2 GiB bindings)
 *   --no-cross-check   bench-webgpu: do not compare the output with the CUDA addon's
 * Exit status: 0 pass, 1 a check failed, 2 bad usage or an unexpected error, 3 skipped (no such device here).
 */
import fs from "node:fs";
import path from "node:path";
import { parseBenchShapes } from "./bench-shapes";
import { type PhaseResult, type SuiteRun, runCudaSuites, runWebGpuSuites } from "./suites";
import { type WebGpuBenchResult, runWebGpuBench } from "./webgpu-bench";

const COMMANDS = ["suite-cuda", "suite-webgpu", "bench-webgpu"] as const;
type Command = (typeof COMMANDS)[number];
const DEFAULT_SHAPES = "prefill:64k:strided:16/16,decode:128k:strided:32/8";

interface Args {
  command: Command;
  json?: string;
  budgetSeconds: number;
  quick: boolean;
  allowSoftware: boolean;
  shapes: string;
  crossCheck: boolean;
}

function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (!COMMANDS.includes(command as Command)) throw new UsageError(`first argument must be one of ${COMMANDS.join(", ")}`);
  const args: Args = { command: command as Command, budgetSeconds: 120, quick: false, allowSoftware: false, shapes: DEFAULT_SHAPES, crossCheck: true };
  for (let i = 0; i < rest.length; i++) {
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${rest[i - 1]} needs a value`);
      return v;
    };
    switch (rest[i]) {
      case "--json":
        args.json = value();
        break;
      case "--budget-s":
        args.budgetSeconds = Number(value());
        if (!(args.budgetSeconds >= 0)) throw new UsageError("--budget-s must be a number of seconds");
        break;
      case "--quick":
        args.quick = true;
        break;
      case "--allow-software":
        args.allowSoftware = true;
        break;
      case "--shapes":
        args.shapes = value();
        break;
      case "--no-cross-check":
        args.crossCheck = false;
        break;
      default:
        throw new UsageError(`unknown option ${rest[i]}`);
    }
  }
  return args;
}

class UsageError extends Error {}

function exitCode(verdict: string): number {
  return verdict === "pass" ? 0 : verdict === "skip" ? 3 : verdict === "fail" ? 1 : 2;
}

function writeJson(file: string | undefined, data: unknown): void {
  if (!file) return;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 1) + "\n");
}

function printSuite(run: SuiteRun): void {
  console.log(`[gpu-check] ${run.backend} suite on ${run.device}: ${run.verdict.toUpperCase()}`);
  for (const p of run.phases) {
    console.log(`[gpu-check]   ${p.phase}: ${p.verdict} (${p.passed} passed, ${p.failed} failed, ${p.seconds.toFixed(1)} s${p.seed !== undefined ? `, seed ${p.seed}` : ""})${p.note ? ` ${p.note}` : ""}`);
  }
}

function printBench(r: WebGpuBenchResult): void {
  console.log(`[gpu-check] webgpu bench on ${r.device}: ${r.verdict.toUpperCase()} (${r.note})`);
  for (const row of r.rows) {
    const timed = !Number.isNaN(row.webgpuMs);
    const rate = row.mode === "prefill" ? `${(row.flops / (row.webgpuMs * 1e9)).toFixed(2)} TFLOP/s` : `${(row.bytes / (row.webgpuMs * 1e6)).toFixed(1)} GB/s (bf16 bytes)`;
    console.log(
      `[gpu-check]   ${row.label} ${row.pattern} dens ${(row.density * 100).toFixed(2)}%: ${timed ? `${row.webgpuMs.toFixed(3)} ms, ${rate}` : "—"}` +
        `${row.check ? `, check ${row.check}${row.checkOk === false ? " FAIL" : ""}` : ""}${row.note ? ` — ${row.note}` : ""}`,
    );
  }
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`gpu-check: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const startedAt = performance.now();
  const log = (line: string): void => console.log(line);
  const common = { budgetSeconds: args.budgetSeconds, startedAt, allowSoftware: args.allowSoftware, log };
  try {
    if (args.command === "bench-webgpu") {
      const onRows = (device: string, rows: unknown[]): void =>
        writeJson(args.json, { command: args.command, device, verdict: "partial", note: "the run did not finish", rows });
      const result = await runWebGpuBench(parseBenchShapes(args.shapes), { ...common, crossCheck: args.crossCheck, onRows });
      writeJson(args.json, { command: args.command, ...result });
      printBench(result);
      return exitCode(result.verdict);
    }
    const done: PhaseResult[] = [];
    const onPhase = (p: PhaseResult): void => {
      done.push(p);
      writeJson(args.json, { command: args.command, verdict: "partial", note: "the run did not finish", phases: done });
    };
    const options = { ...common, quick: args.quick, onPhase };
    const run = args.command === "suite-cuda" ? await runCudaSuites(options) : await runWebGpuSuites(options);
    writeJson(args.json, { command: args.command, ...run });
    printSuite(run);
    return exitCode(run.verdict);
  } catch (err) {
    console.error(`[gpu-check] ${args.command}: unexpected error: ${(err as Error).stack ?? err}`);
    writeJson(args.json, { command: args.command, verdict: "error", note: (err as Error).message });
    return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
