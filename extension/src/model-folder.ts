/**
 * Is a folder a model Longview can load? The same rules as model-runtime's loader (model/model-folder.ts), checked
 * cheaply before anything loads: config.json must parse as a model config (ours or a Hugging Face Llama-family
 * one), and model.safetensors must exist, have a sound header, hold every tensor the config needs with the right
 * shape, and not be truncated. Only the safetensors HEADER is read, so a multi-gigabyte model is checked in
 * milliseconds. No `vscode` import: Select Model and the unit tests share it.
 */
import fs from "node:fs";
import path from "node:path";
import { type ModelConfig, modelStats, parseModelConfig } from "../../model-runtime/src/model/config";
import { CONFIG_FILE, WEIGHTS_FILE, layerTensorName } from "../../model-runtime/src/model/model-folder";
import { LAYER_MATRICES, layerMatrixShape } from "../../model-runtime/src/model/weights";

export interface ModelFolderCheck {
  folder: string;
  ok: boolean;
  /** Each thing that is missing or wrong, for people. Empty when ok. */
  problems: string[];
  /** "llama-family, 2 layers, d 64, 4 heads, 0.1 M parameters; model.safetensors 0.4 MB" when ok. */
  summary: string;
}

/**
 * Where the bundled default model lives inside the extension: the build copies model-runtime/assets/model there,
 * and the model worker looks for it there too (model-runtime's bundledModelFolder(), next to dist/*.js).
 */
export const BUNDLED_MODEL_DIR = "dist/assets/model";

/** Larger safetensors headers are not credible (they hold tensor names and offsets only). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const OTHER_WEIGHTS = /\.(bin|gguf|onnx|pt|pth|ckpt|h5)$|\.safetensors$/i;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The tensors the header declares; a string when the header itself is unusable. */
function readHeader(file: string): Map<string, HeaderEntry> | string {
  const size = fs.statSync(file).size;
  if (size < 8) return `${WEIGHTS_FILE} is ${size} bytes, too short to be a safetensors file`;
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const length = Number(head.readBigUInt64LE(0));
    if (length < 2 || length > MAX_HEADER_BYTES) return `${WEIGHTS_FILE} has a corrupt header (length ${length})`;
    if (8 + length > size) return `${WEIGHTS_FILE} is truncated: its header alone needs ${8 + length} bytes, the file has ${size}`;
    const json = Buffer.alloc(length);
    fs.readSync(fd, json, 0, length, 8);
    let header: unknown;
    try {
      header = JSON.parse(json.toString("utf8"));
    } catch (e) {
      return `${WEIGHTS_FILE}: the header is not valid JSON (${(e as Error).message})`;
    }
    if (typeof header !== "object" || header === null || Array.isArray(header)) return `${WEIGHTS_FILE}: the header is not a JSON object`;
    const tensors = new Map<string, HeaderEntry>();
    let end = 0;
    for (const [name, entry] of Object.entries(header as Record<string, HeaderEntry>)) {
      if (name === "__metadata__") continue;
      if (!entry || !Array.isArray(entry.shape) || !Array.isArray(entry.data_offsets)) return `${WEIGHTS_FILE}: tensor ${name} has no shape or offsets`;
      tensors.set(name, entry);
      end = Math.max(end, Number(entry.data_offsets[1]));
    }
    if (8 + length + end > size) return `${WEIGHTS_FILE} is truncated: its tensors need ${8 + length + end} bytes, the file has ${size}`;
    return tensors;
  } finally {
    fs.closeSync(fd);
  }
}

/** Tensors the config needs, with their shapes: the loader's names (Hugging Face Llama's). */
function requiredTensors(c: ModelConfig): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [["model.embed_tokens.weight", [c.vocabSize, c.dModel]], ["model.norm.weight", [c.dModel]]];
  for (let i = 0; i < c.numLayers; i++) {
    out.push([`model.layers.${i}.input_layernorm.weight`, [c.dModel]], [`model.layers.${i}.post_attention_layernorm.weight`, [c.dModel]]);
    for (const m of LAYER_MATRICES) out.push([layerTensorName(i, m), layerMatrixShape(c, m)]);
  }
  if (!c.tieEmbeddings) out.push(["lm_head.weight", [c.vocabSize, c.dModel]]);
  return out;
}

function tensorProblems(c: ModelConfig, tensors: Map<string, HeaderEntry>): string[] {
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [name, shape] of requiredTensors(c)) {
    const t = tensors.get(name);
    if (!t) missing.push(name);
    else if (t.shape.join(",") !== shape.join(",")) wrong.push(`${name} is [${t.shape.join(", ")}], the config needs [${shape.join(", ")}]`);
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`${WEIGHTS_FILE} lacks ${missing.length} tensor${missing.length === 1 ? "" : "s"} the config needs: ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", …" : ""}`);
  if (wrong.length) problems.push(`${WEIGHTS_FILE}: ${wrong.slice(0, 3).join("; ")}${wrong.length > 3 ? "; …" : ""}`);
  return problems;
}

/** 1234567 → "1.2 M" with units for 1, 1e3, 1e6, 1e9. */
function scaled(n: number, units: [string, string, string, string]): string {
  const i = n >= 1e9 ? 3 : n >= 1e6 ? 2 : n >= 1e3 ? 1 : 0;
  return i === 0 ? `${n}${units[0]}` : `${(n / 10 ** (3 * i)).toFixed(1)}${units[i]}`;
}

export function checkModelFolder(folder: string): ModelFolderCheck {
  const result: ModelFolderCheck = { folder, ok: false, problems: [], summary: "" };
  let entries: string[];
  try {
    if (!fs.statSync(folder).isDirectory()) {
      result.problems.push(`${folder} is not a folder`);
      return result;
    }
    entries = fs.readdirSync(folder);
  } catch (e) {
    result.problems.push(`${folder} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return result;
  }

  let config: ModelConfig | undefined;
  if (!entries.includes(CONFIG_FILE)) {
    result.problems.push(`no ${CONFIG_FILE}`);
  } else {
    try {
      config = parseModelConfig(JSON.parse(fs.readFileSync(path.join(folder, CONFIG_FILE), "utf8")), CONFIG_FILE);
    } catch (e) {
      result.problems.push(e instanceof SyntaxError ? `${CONFIG_FILE} is not valid JSON (${e.message})` : (e as Error).message);
    }
  }

  const weightsFile = path.join(folder, WEIGHTS_FILE);
  if (!entries.includes(WEIGHTS_FILE)) {
    const others = entries.filter((f) => OTHER_WEIGHTS.test(f));
    result.problems.push(`no weights (${WEIGHTS_FILE})${others.length ? `: found ${others.slice(0, 3).join(", ")}, but Longview loads a single ${WEIGHTS_FILE}` : ""}`);
  } else {
    const tensors = readHeader(weightsFile);
    if (typeof tensors === "string") result.problems.push(tensors);
    else if (config) result.problems.push(...tensorProblems(config, tensors));
  }

  result.ok = result.problems.length === 0;
  if (result.ok && config) {
    const params = modelStats(config).parameters;
    const bytes = fs.statSync(weightsFile).size;
    result.summary = `${config.numLayers} layers, d ${config.dModel}, ${config.numHeads} heads, ${scaled(params, ["", " k", " M", " B"])} parameters; ${WEIGHTS_FILE} ${scaled(bytes, [" B", " kB", " MB", " GB"])}`;
  }
  return result;
}
