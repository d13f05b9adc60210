/**
 * The attention backend the model will run on: opened through model-runtime's dispatch
 * (openAttentionBackend) for the `longview.backend` setting, once, and re-opened when the setting or the
 * workspace's trust changes. In Restricted Mode it passes `allowNative: false`, so no native addon or GPU driver
 * is loaded: only the TypeScript kernels run.
 */
import * as vscode from "vscode";
import { type BackendPreference, type DispatchResult, openAttentionBackend } from "../../model-runtime/src/engine/attention-backend";
import { readSettings } from "./config";

export const BACKEND_CHOICES: ReadonlyArray<{ preference: BackendPreference; label: string; detail: string }> = [
  { preference: "auto", label: "auto", detail: "CUDA if an NVIDIA GPU is there, else a hardware WebGPU adapter, else the CPU" },
  { preference: "cpu", label: "cpu", detail: "native CPU kernels (multithreaded, SIMD); always available" },
  { preference: "webgpu", label: "webgpu", detail: "WebGPU on any GPU (Dawn)" },
  { preference: "cuda", label: "cuda", detail: "CUDA kernels on an NVIDIA GPU" },
];

export interface OpenedBackend {
  preference: BackendPreference;
  allowNative: boolean;
  result: DispatchResult;
}

const KIND_LABEL: Record<DispatchResult["kind"], string> = {
  cuda: "CUDA",
  webgpu: "WebGPU",
  cpu: "native CPU",
  js: "TypeScript kernels",
};

/** One line for people: "cpu → native CPU (cpu-avx2)", plus why a wish was not met. */
export function describeBackend(b: OpenedBackend): string {
  const notices = b.result.notices.length ? ` — ${b.result.notices.join("; ")}` : "";
  const restricted = b.allowNative ? "" : " [Restricted Mode: no native code]";
  return `${b.preference} → ${KIND_LABEL[b.result.kind]} (${b.result.backend.name})${restricted}${notices}`;
}

export class BackendService implements vscode.Disposable {
  private opened: Promise<OpenedBackend> | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly output: vscode.OutputChannel) {
    this.subscriptions = [
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("longview.backend")) this.reset();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.reset()),
    ];
  }

  get allowNative(): boolean {
    return vscode.workspace.isTrusted;
  }

  /** The backend for the current setting, opened on first use. */
  current(): Promise<OpenedBackend> {
    this.opened ??= this.openFor(readSettings().backend);
    return this.opened;
  }

  /** Open `preference` now (Select Backend) and make it the current one. */
  open(preference: BackendPreference): Promise<OpenedBackend> {
    this.reset();
    this.opened = this.openFor(preference);
    return this.opened;
  }

  private async openFor(preference: BackendPreference): Promise<OpenedBackend> {
    const allowNative = this.allowNative;
    const result = await openAttentionBackend(preference, { allowNative, log: (m) => this.output.appendLine(`[backend] ${m}`) });
    const opened = { preference, allowNative, result };
    this.output.appendLine(`[backend] ${describeBackend(opened)}`);
    return opened;
  }

  private reset(): void {
    const old = this.opened;
    this.opened = undefined;
    void old?.then((b) => b.result.backend.dispose?.()).catch(() => undefined);
  }

  dispose(): void {
    this.reset();
    for (const s of this.subscriptions) s.dispose();
  }
}
