// Bundles the in-extension-host integration suite into one CommonJS file, like the extension itself.
import * as esbuild from "esbuild";
import path from "node:path";
import { integrationBundle, repoRoot } from "./paths";

export async function bundleIntegrationSuite(): Promise<string> {
  await esbuild.build({
    entryPoints: [path.join(repoRoot, "test/e2e/integration/index.ts")],
    outfile: integrationBundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    sourcemap: "inline",
    // vscode comes from the extension host; mocha is loaded from node_modules at run time (it loads its own
    // reporters by path and does not survive bundling); native addons and Dawn load from disk, as in the extension.
    external: ["vscode", "mocha", "webgpu", "onnxruntime-node", "*.node"],
    logLevel: "warning",
  });
  return integrationBundle;
}
