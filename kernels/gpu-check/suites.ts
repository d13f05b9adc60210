/**
 * The shared kernel suite (kernels/testing) on the GPU backends, phase by phase, each phase's verdict kept
 * for the device run's summary. A backend that cannot be opened is a "skip" with its reason (never a crash),
 * so the same entry runs on a machine without a GPU.
 */
import { CudaAttentionBackend, CudaUnavailableError } from "../cuda/index";
import { type Precision, type SuiteReport, runSharedSuite } from "../testing";
import { WebGpuAttention, WebGpuUnavailableError } from "../webgpu/index";

export type Verdict = "pass" | "fail" | "skip" | "error";

export interface PhaseResult {
  phase: string;
  verdict: Verdict;
  passed: number;
  failed: number;
  seed?: number;
  seconds: number;
  /** Why it was skipped or errored, or the failed case names. */
  note: string;
}

export interface SuiteRun {
  backend: "cuda" | "webgpu";
  /** The device as the backend names it. */
  device: string;
  verdict: Verdict;
  phases: PhaseResult[];
}

export interface SuiteRunOptions {
  /** Only the quick case list in every phase (a smoke test). */
  quick: boolean;
  /** Phases after the first are not started once this many seconds have passed since `startedAt`. */
  budgetSeconds: number;
  /** performance.now() when the run began. */
  startedAt: number;
  /** Run WebGPU on a software adapter (lavapipe) too; otherwise such an adapter is a skip. */
  allowSoftware: boolean;
  log: (line: string) => void;
  /** Called after every phase (so a run killed at its time cap still leaves the phases it finished). */
  onPhase?: (phase: PhaseResult) => void;
}

interface Phase {
  name: string;
  quick: boolean;
  precision: Precision;
  /** Sets the backend up for the phase; returns the undo. */
  setup?: () => () => void;
}

/** Overall verdict: any failure or error wins, then pass, and all-skipped is a skip. */
export function overallVerdict(phases: PhaseResult[]): Verdict {
  if (phases.some((p) => p.verdict === "fail")) return "fail";
  if (phases.some((p) => p.verdict === "error")) return "error";
  if (phases.some((p) => p.verdict === "pass")) return "pass";
  return "skip";
}

/** Runs the phases in order; `firstOfRun` exempts the first from the time budget (something always runs). */
async function runPhases(backend: Parameters<typeof runSharedSuite>[0], phases: Phase[], o: SuiteRunOptions, firstOfRun: boolean): Promise<PhaseResult[]> {
  const results: PhaseResult[] = [];
  for (const [i, phase] of phases.entries()) {
    const elapsed = (performance.now() - o.startedAt) / 1000;
    if (!(firstOfRun && i === 0) && elapsed > o.budgetSeconds) {
      results.push({ phase: phase.name, verdict: "skip", passed: 0, failed: 0, seconds: 0, note: `time budget (${o.budgetSeconds} s) spent` });
      o.log(`[gpu-check] ${phase.name}: SKIPPED, time budget spent after ${elapsed.toFixed(0)} s`);
      o.onPhase?.(results[results.length - 1]);
      continue;
    }
    const t0 = performance.now();
    const undo = phase.setup?.();
    try {
      const report: SuiteReport = await runSharedSuite(backend, {
        quick: o.quick || phase.quick,
        precision: phase.precision,
        throwOnFailure: false,
        log: (line) => o.log(`[${phase.name}] ${line}`),
      });
      results.push({
        phase: phase.name,
        verdict: report.failures.length === 0 && report.results.length > 0 ? "pass" : "fail",
        passed: report.results.length - report.failures.length,
        failed: report.failures.length,
        seed: report.seed,
        seconds: (performance.now() - t0) / 1000,
        note: report.failures.map((f) => f.name).join(" "),
      });
    } catch (err) {
      results.push({ phase: phase.name, verdict: "error", passed: 0, failed: 0, seconds: (performance.now() - t0) / 1000, note: (err as Error).message.split("\n")[0] });
      o.log(`[gpu-check] ${phase.name}: ERROR ${(err as Error).stack ?? err}`);
    } finally {
      undo?.();
    }
    o.onPhase?.(results[results.length - 1]);
  }
  return results;
}

function skipped(backend: SuiteRun["backend"], reason: string, o: SuiteRunOptions, device = "none"): SuiteRun {
  o.log(`[gpu-check] SKIPPING the ${backend} suite: ${reason}`);
  return { backend, device, verdict: "skip", phases: [{ phase: backend, verdict: "skip", passed: 0, failed: 0, seconds: 0, note: reason }] };
}

/** CUDA: bf16 on the default path (wgmma for blocks >= 64 on Hopper, mma.sync else), then fp16 on mma.sync. */
export async function runCudaSuites(o: SuiteRunOptions): Promise<SuiteRun> {
  const open = (dtype: "bf16" | "fp16", path: "auto" | "mma"): CudaAttentionBackend => new CudaAttentionBackend({ dtype, path });
  let first: CudaAttentionBackend;
  try {
    first = open("bf16", "auto");
  } catch (err) {
    if (err instanceof CudaUnavailableError) return skipped("cuda", err.message, o);
    throw err;
  }
  const device = first.name;
  o.log(`[gpu-check] CUDA device: ${device}; driver/runtime ${first.info.driverVersion}/${first.info.runtimeVersion}, sm ${first.info.computeCapability}`);
  const phases: PhaseResult[] = [];
  try {
    phases.push(...(await runPhases(first, [{ name: "cuda bf16 default path", quick: false, precision: "bf16" }], o, true)));
  } finally {
    first.dispose();
  }
  const mma = open("fp16", "mma");
  try {
    phases.push(...(await runPhases(mma, [{ name: "cuda fp16 mma.sync", quick: true, precision: "fp16" }], o, false)));
  } finally {
    mma.dispose();
  }
  return { backend: "cuda", device, verdict: overallVerdict(phases), phases };
}

/** WebGPU: the full suite on the default plan, then quick runs with keys forced into splits and without subgroups. */
export async function runWebGpuSuites(o: SuiteRunOptions): Promise<SuiteRun> {
  let gpu: WebGpuAttention;
  try {
    gpu = await WebGpuAttention.create();
  } catch (err) {
    if (err instanceof WebGpuUnavailableError) return skipped("webgpu", err.message, o);
    throw err;
  }
  const info = gpu.info;
  const device = `${info.description}${info.subgroups ? ", subgroups" : ""}${info.shaderF16 ? ", shader-f16" : ""}`;
  o.log(`[gpu-check] WebGPU adapter: ${device}; tuning ${JSON.stringify(gpu.tuning)}`);
  if (info.software && !o.allowSoftware) {
    gpu.dispose();
    return skipped("webgpu", "a software adapter, not a GPU (pass --allow-software to run on it anyway)", o, device);
  }
  const defaults = gpu.tuning;
  const phases: Phase[] = [
    { name: "webgpu default plan", quick: false, precision: "fp32" },
    {
      name: "webgpu split-K",
      quick: true,
      precision: "fp32",
      setup: () => {
        gpu.tuning = { ...defaults, targetInvocations: 1 << 22, minSplitKeys: 16 };
        return () => (gpu.tuning = defaults);
      },
    },
  ];
  if (info.subgroups) {
    phases.push({
      name: "webgpu no subgroups",
      quick: true,
      precision: "fp32",
      setup: () => {
        gpu.tuning = { ...defaults, subgroups: false };
        return () => (gpu.tuning = defaults);
      },
    });
  }
  try {
    const results = await runPhases(gpu, phases, o, true);
    return { backend: "webgpu", device, verdict: overallVerdict(results), phases: results };
  } finally {
    gpu.dispose();
  }
}
