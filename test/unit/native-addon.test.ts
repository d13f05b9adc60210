/**
 * Where the native addons are looked for: the environment override first, then the copy a VSIX carries in
 * dist/native/<platform>-<arch>/ beside the bundle, then the checkout's build folders; a copy that does not load
 * is skipped with its reason. The layouts are built in a temp dir around a copy of the real CPU addon (when built).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { ADDON_FILE, addonCandidates } from "../../kernels/cpu/index";
import { bundledAddonPath, loadAddonFrom, nativePlatformDir } from "../../kernels/native-addon";
import { DENSE_ADDON_FILE, denseAddonCandidates } from "../../model-runtime/src/engine/native";

const repoRoot = path.resolve(__dirname, "../..");
const builtCpuAddon = path.join(repoRoot, "kernels/cpu/build/Release", ADDON_FILE);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "longview-native-addon-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Runs `fn` with the environment variable set (or unset), restoring it after. */
function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/** A bundle folder (dist/) with `contents` written as dist/native/<this platform>/<file>. */
function distWith(name: string, file: string, contents: Buffer | string): { dist: string; addon: string } {
  const dist = path.join(scratch, name, "dist");
  const addon = bundledAddonPath(dist, file);
  fs.mkdirSync(path.dirname(addon), { recursive: true });
  fs.writeFileSync(addon, contents);
  return { dist, addon };
}

test("the platform folder is <platform>-<arch>, under dist/native beside the bundle", () => {
  assert.equal(nativePlatformDir(), `${process.platform}-${process.arch}`);
  assert.equal(nativePlatformDir("darwin", "arm64"), "darwin-arm64");
  assert.equal(bundledAddonPath("/ext/dist", "x.node", "win32", "x64"), path.join("/ext/dist", "native", "win32-x64", "x.node"));
});

test("CPU and dense candidates: env override, then dist/native/<platform>-<arch>, then the build folders", () => {
  const dist = path.join(scratch, "order", "dist");
  const cpuBundled = bundledAddonPath(dist, ADDON_FILE);
  const denseBundled = bundledAddonPath(dist, DENSE_ADDON_FILE);
  const cpu = withEnv("LONGVIEW_CPU_ADDON", "/override/cpu.node", () => addonCandidates(undefined, dist));
  assert.deepEqual(cpu.slice(0, 2), ["/override/cpu.node", cpuBundled]);
  assert.ok(cpu.indexOf(path.join(dist, "../kernels/cpu/build/Release", ADDON_FILE)) > 1, "a checkout's build folder comes after the bundled copy");
  const dense = withEnv("LONGVIEW_DENSE_ADDON", "/override/dense.node", () => denseAddonCandidates(undefined, dist));
  assert.deepEqual(dense.slice(0, 2), ["/override/dense.node", denseBundled]);
  assert.ok(dense.indexOf(path.join(dist, "../model-runtime/src/engine/native/build/Release", DENSE_ADDON_FILE)) > 1);
  // Without an override the bundled copy is first; an explicit path is the only candidate.
  assert.equal(withEnv("LONGVIEW_CPU_ADDON", undefined, () => addonCandidates(undefined, dist))[0], cpuBundled);
  assert.equal(withEnv("LONGVIEW_DENSE_ADDON", undefined, () => denseAddonCandidates(undefined, dist))[0], denseBundled);
  assert.deepEqual(addonCandidates("/only/this.node", dist), ["/only/this.node"]);
});

test("an installed layout loads the addon from dist/native/<platform>-<arch>; the env override wins over it", { skip: !fs.existsSync(builtCpuAddon) && "the CPU addon is not built (npm run build:native)" }, () => {
  const { dist, addon } = distWith("installed", ADDON_FILE, fs.readFileSync(builtCpuAddon));
  const fromBundle = withEnv("LONGVIEW_CPU_ADDON", undefined, () => loadAddonFrom<{ info(): { isa: string } }>(addonCandidates(undefined, dist)));
  assert.ok("addon" in fromBundle, `did not load: ${JSON.stringify(fromBundle)}`);
  assert.equal(fromBundle.file, addon);
  assert.match(fromBundle.addon.info().isa, /^(avx512|avx2|generic)$/);

  const override = path.join(scratch, "override", ADDON_FILE);
  fs.mkdirSync(path.dirname(override), { recursive: true });
  fs.copyFileSync(builtCpuAddon, override);
  const fromEnv = withEnv("LONGVIEW_CPU_ADDON", override, () => loadAddonFrom(addonCandidates(undefined, dist)));
  assert.ok("addon" in fromEnv);
  assert.equal(fromEnv.file, override);
});

test("a bundled copy that does not load is skipped with its reason, and the next candidate is tried", () => {
  const { dist, addon } = distWith("broken", ADDON_FILE, "not an ELF file");
  const missing = path.join(scratch, "broken", "missing.node");
  const result = withEnv("LONGVIEW_CPU_ADDON", undefined, () => loadAddonFrom([...addonCandidates(undefined, dist).slice(0, 1), missing]));
  assert.ok(!("addon" in result), "nothing loads");
  assert.deepEqual(result.tried, [addon, missing]);
  assert.match(result.reasons[0], new RegExp(`^${addon.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .+`));
  assert.doesNotMatch(result.reasons[0], /not found/, "the broken copy's own load error is kept");
  assert.equal(result.reasons[1], `${missing}: not found`);

  // With a working build later in the list, the broken copy is passed over and that build loads.
  if (fs.existsSync(builtCpuAddon)) {
    const next = loadAddonFrom([addon, builtCpuAddon]);
    assert.ok("addon" in next);
    assert.equal(next.file, builtCpuAddon);
  }
});

test("another platform's folder is never looked at", () => {
  const other = process.platform === "linux" ? "darwin" : "linux";
  const dist = path.join(scratch, "other-platform", "dist");
  const foreign = bundledAddonPath(dist, ADDON_FILE, other, process.arch);
  fs.mkdirSync(path.dirname(foreign), { recursive: true });
  fs.writeFileSync(foreign, "built elsewhere");
  assert.ok(!addonCandidates(undefined, dist).includes(foreign));
});
