// The CUDA backend's resident K/V uploads (kernels/cuda/index.ts CudaResidentKv), without a GPU: the addon's
// writeKv is replaced by a recorder that stores what it is given into a device-shaped array, so the test checks
// that rows read from the host cache's strided layout land in the right device rows, in slices, and nothing else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CudaKvCache, CudaResidentKv, GatherBuffers } from "../../kernels/cuda/index";

type Ctx = ConstructorParameters<typeof CudaKvCache>[0];

/** A device cache [H][capacity][D] as the addon would hold it, and the writeKv calls it got. */
function fakeDevice(H: number, capacity: number, D: number) {
  const k = new Float32Array(H * capacity * D).fill(Number.NaN);
  const v = new Float32Array(H * capacity * D).fill(Number.NaN);
  const calls: Array<{ start: number; count: number }> = [];
  const ctx = {
    writeKv(_h: object, gk: Float32Array, gv: Float32Array, start: number, count: number) {
      assert.equal(gk.length, H * count * D, "writeKv gets exactly numKvHeads * count * headDim floats");
      assert.equal(gv.length, H * count * D);
      for (let h = 0; h < H; h++) {
        k.set(gk.subarray(h * count * D, (h + 1) * count * D), (h * capacity + start) * D);
        v.set(gv.subarray(h * count * D, (h + 1) * count * D), (h * capacity + start) * D);
      }
      calls.push({ start, count });
    },
    release() {},
  } as unknown as Ctx;
  return { k, v, calls, cache: new CudaKvCache(ctx, {}, H, capacity, D, "bf16") };
}

for (const H of [1, 3]) {
  test(`resident write gathers strided host rows into device rows (${H} KV head${H > 1 ? "s" : ""}), in bounded slices`, () => {
    const D = 4;
    const hostCap = 50;
    const devCap = 40;
    const hostK = Float32Array.from({ length: H * hostCap * D }, (_, i) => i + 0.5);
    const hostV = Float32Array.from({ length: H * hostCap * D }, (_, i) => -i - 0.25);
    const dev = fakeDevice(H, devCap, D);
    // Slices of 7 rows per call whatever the head count.
    const kv = new CudaResidentKv(dev.cache, new GatherBuffers(), 7 * H * D);
    assert.equal(kv.capacity, devCap);
    kv.write(hostK, hostV, hostCap, 5, 17);
    assert.deepEqual(dev.calls, [
      { start: 5, count: 7 },
      { start: 12, count: 7 },
      { start: 19, count: 3 },
    ]);
    for (let h = 0; h < H; h++)
      for (let t = 0; t < devCap; t++)
        for (let d = 0; d < D; d++) {
          const got = dev.k[(h * devCap + t) * D + d];
          const gotV = dev.v[(h * devCap + t) * D + d];
          if (t >= 5 && t < 22) {
            assert.equal(got, hostK[(h * hostCap + t) * D + d], `K head ${h} row ${t}`);
            assert.equal(gotV, hostV[(h * hostCap + t) * D + d], `V head ${h} row ${t}`);
          } else assert.ok(Number.isNaN(got) && Number.isNaN(gotV), `row ${t} outside the write stays untouched`);
        }
    assert.throws(() => kv.write(hostK, hostV, hostCap, 30, 11), RangeError, "past the device capacity");
    kv.write(hostK, hostV, hostCap, 0, 0);
    assert.equal(dev.calls.length, 3, "an empty write makes no call");
    kv.dispose();
    kv.dispose(); // idempotent
  });
}
