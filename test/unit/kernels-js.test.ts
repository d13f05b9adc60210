import { test } from "node:test";
import { JsAttentionBackend } from "../../kernels/js";
import { runSharedSuite } from "../../kernels/testing";

test("the TypeScript fallback backend passes the shared kernel suite (quick set)", async () => {
  await runSharedSuite(new JsAttentionBackend(), { quick: true, precision: "fp32" });
});
