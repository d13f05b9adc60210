/** `longview ask`: the model's answer when a model loads, the index's with a one-line notice when it cannot. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../model-runtime/src/model/config";
import { saveModel } from "../../model-runtime/src/model/model-folder";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import { removeTree } from "../helpers/tmp-tree";

const TINY: ModelConfig = { ...DEFAULT_MODEL_CONFIG, dModel: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 32, ffnDim: 128 };
const CLI = path.resolve(__dirname, "../../model-runtime/src/cli/main.ts");
const FIXTURE = path.resolve(__dirname, "../fixtures/polyglot");
let tmp: string;
let model: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "longview-cli-ask-"));
  model = path.join(tmp, "model");
  saveModel(model, TINY, randomWeights(TINY, { seed: 3, int8: true }), { dtype: "int8" });
});
after(() => removeTree(tmp));

function ask(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "ask", FIXTURE, "Where is `Ledger` defined?", "--no-store", "--threads", "0", ...args], {
    cwd: path.resolve(__dirname, "../.."),
    env: { ...process.env, XDG_CACHE_HOME: tmp },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr without the GPU driver's own chatter (Dawn prints warnings while the auto backend probes WebGPU). */
const ownLines = (stderr: string) => stderr.split("\n").filter((l) => l && !l.startsWith("Warning: "));

test("a missing model: one line says so, then the index answers", () => {
  const r = ask("--model", path.join(tmp, "missing"));
  assert.equal(r.status, 0, r.stderr);
  const lines = ownLines(r.stderr);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^model unavailable \(missing\): no model at .*missing.* answering from the index$/);
  assert.match(r.stdout, /^\(index results\)\n\n### `Ledger`/);
  assert.match(r.stdout, /ledger\.go:\d+/);
});

test("a corrupt model: the same fallback, saying why", () => {
  const corrupt = path.join(tmp, "corrupt");
  fs.cpSync(model, corrupt, { recursive: true });
  fs.truncateSync(path.join(corrupt, "model.safetensors"), 4096);
  const r = ask("--model", corrupt, "--json");
  assert.equal(r.status, 0, r.stderr);
  assert.match(ownLines(r.stderr)[0], /^model unavailable \(invalid\): /);
  const out = JSON.parse(r.stdout) as { source: string; notice: string; citations: unknown[] };
  assert.equal(out.source, "index");
  assert.match(out.notice, /invalid/);
  assert.ok(out.citations.length > 0);
});

test("--index-only answers from the index without trying a model", () => {
  const r = ask("--index-only", "--model", path.join(tmp, "missing"));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(ownLines(r.stderr), []);
  assert.match(r.stdout, /^\(index results\)/);
});

test("with a model: the answer streams, then the files it read, then the index's answer; --json gives the structured answer", () => {
  const r = ask("--model", model, "--backend", "cpu", "--max-new-tokens", "6");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /files read \(share of the answer's attention\):\n\s+\d+\.\d%\s+\S+[\s\S]*\n\(index results\)\n\n### `Ledger`/);
  assert.match(r.stderr, /\(model model, cpu attention \+ \S+ dense: \d+ tokens of \d+ files in context/);
  assert.match(r.stderr, /first token after [\d.]+ s; \d+ tokens at \d+ tokens\/s/);
  const j = ask("--model", model, "--backend", "js", "--max-new-tokens", "3", "--json");
  assert.equal(j.status, 0, j.stderr);
  const out = JSON.parse(j.stdout) as { source: string; answer: { readMap: unknown[]; timings: object }; status: { backend: string; dense: string }; index: { citations: unknown[] } };
  assert.equal(out.source, "model");
  assert.ok(out.index.citations.length > 0, "the index's answer comes with the model's");
  assert.equal(out.status.backend, "js");
  assert.equal(out.status.dense, "typescript");
  assert.ok(out.answer.readMap.length > 0 && out.answer.timings);
  const bad = ask("--backend", "tpu");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--backend must be one of auto, cpu, js, webgpu, cuda/);
});
