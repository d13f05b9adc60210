/**
 * "Select Backend" and "Select Model": quick picks that write `longview.backend` / `longview.modelPath` and
 * say plainly what the choice means on this machine (the backend actually opened, with its notices; whether the
 * folder is a loadable model). Both accept an argument so scripts and tests can skip the picker.
 */
import path from "node:path";
import * as vscode from "vscode";
import type { BackendPreference } from "../../model-runtime/src/engine/attention-backend";
import { BACKEND_CHOICES, type BackendService, type OpenedBackend, describeBackend } from "./backend";
import { readSettings } from "./config";
import { BUNDLED_MODEL_DIR, type ModelFolderCheck, checkModelFolder } from "./model-folder";

/** Writes where the user's value lives: the workspace if it sets one (it would shadow the user setting), else the user. */
async function writeSetting(key: string, value: unknown): Promise<void> {
  const config = vscode.workspace.getConfiguration("longview");
  const inspected = config.inspect(key);
  const target = inspected?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update(key, value, target);
}

export interface BackendSelection {
  preference: BackendPreference;
  kind: OpenedBackend["result"]["kind"];
  name: string;
  notices: string[];
  allowNative: boolean;
}

export async function selectBackend(backends: BackendService, output: vscode.OutputChannel, preset?: unknown): Promise<BackendSelection | undefined> {
  let preference = BACKEND_CHOICES.find((c) => c.preference === preset)?.preference;
  if (!preference) {
    const current = readSettings().backend;
    const picked = await vscode.window.showQuickPick(
      BACKEND_CHOICES.map((c) => ({ label: c.label, description: c.preference === current ? "(current)" : undefined, detail: c.detail, preference: c.preference })),
      { title: "Longview: attention backend", placeHolder: `Currently "${current}". The model's attention runs on the backend picked here.` },
    );
    if (!picked) return undefined;
    preference = picked.preference;
  }
  await writeSetting("backend", preference);
  const opened = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Longview: opening the ${preference} backend` },
    () => backends.open(preference),
  );
  const message = `Longview backend: ${describeBackend(opened)}`;
  output.appendLine(`[backend] selected: ${describeBackend(opened)}`);
  if (opened.result.notices.length) void vscode.window.showWarningMessage(message);
  else void vscode.window.showInformationMessage(message);
  return { preference, kind: opened.result.kind, name: opened.result.backend.name, notices: [...opened.result.notices], allowNative: opened.allowNative };
}

export interface ModelSelection {
  /** The value written to longview.modelPath ("" = the bundled default), or undefined when nothing was written. */
  modelPath?: string;
  check: ModelFolderCheck;
}

function problemsText(check: ModelFolderCheck): string {
  return check.problems.join("; ");
}

/** preset: "default", a folder path, or a folder Uri; otherwise the picker asks. */
export async function selectModel(extensionUri: vscode.Uri, output: vscode.OutputChannel, preset?: unknown): Promise<ModelSelection | undefined> {
  const bundled = path.join(extensionUri.fsPath, ...BUNDLED_MODEL_DIR.split("/"));
  let folder: string | undefined;
  if (preset === "default") folder = "";
  else if (preset instanceof vscode.Uri) folder = preset.fsPath;
  else if (typeof preset === "string" && preset) folder = preset;
  else {
    const current = readSettings().modelPath;
    const bundledCheck = checkModelFolder(bundled);
    const items: Array<vscode.QuickPickItem & { choice: "default" | "browse" | "current" }> = [
      {
        label: "$(package) Bundled default model",
        description: current === "" ? "(current)" : undefined,
        detail: bundledCheck.ok ? bundledCheck.summary : "Not shipped with this version yet: answers come from the index until it is.",
        choice: "default",
      },
      { label: "$(folder-opened) Choose a model folder…", detail: "A folder with config.json (Longview or Hugging Face Llama-family) and model.safetensors", choice: "browse" },
    ];
    if (current) items.push({ label: `$(check) ${current}`, description: "(current)", choice: "current" });
    const picked = await vscode.window.showQuickPick(items, { title: "Longview: model" });
    if (!picked) return undefined;
    if (picked.choice === "default") folder = "";
    else if (picked.choice === "current") folder = current;
    else {
      const uris = await vscode.window.showOpenDialog({
        canSelectFolders: true,
        canSelectFiles: false,
        canSelectMany: false,
        openLabel: "Use this model",
        title: "Longview: choose a model folder (config.json + model.safetensors)",
        defaultUri: current ? vscode.Uri.file(current) : undefined,
      });
      if (!uris?.length) return undefined;
      folder = uris[0].fsPath;
    }
  }

  if (folder === "") {
    await writeSetting("modelPath", "");
    const check = checkModelFolder(bundled);
    const message = check.ok
      ? `Longview model: the bundled default (${check.summary}).`
      : "Longview model: the bundled default. It is not shipped with this version yet, so answers come from the index.";
    output.appendLine(`[model] ${message}`);
    void vscode.window.showInformationMessage(message);
    return { modelPath: "", check };
  }

  const check = checkModelFolder(folder);
  if (!check.ok) {
    const message = `Longview: ${folder} is not a model folder: ${problemsText(check)}. The model setting is unchanged.`;
    output.appendLine(`[model] ${message}`);
    void vscode.window.showErrorMessage(message);
    return { check };
  }
  await writeSetting("modelPath", folder);
  const message = `Longview model: ${folder} (${check.summary}).`;
  output.appendLine(`[model] ${message}`);
  void vscode.window.showInformationMessage(message);
  return { modelPath: folder, check };
}
