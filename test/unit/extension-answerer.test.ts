// The index answerer's cancellation and progress, with a small fake of the index controller (the real
// controller needs VS Code) around a real index.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type AnswerPart, IndexAnswerer } from "../../extension/src/answerer";
import type { IndexController, IndexState } from "../../extension/src/index-controller";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import { FakeCancellationToken as Token, RATE_LIMITER_FILES } from "../helpers/extension-fakes";
import { indexFolder, makeTree, removeTree } from "../helpers/tmp-tree";

let dir: string;
let index: WorkspaceIndex;
before(async () => {
  dir = makeTree(RATE_LIMITER_FILES);
  index = await indexFolder(dir);
});
after(() => removeTree(dir));

/** A controller whose build finishes when the test says so. */
class FakeController {
  state: IndexState = { kind: "indexing", progress: { phase: "parsing", filesDone: 1, filesTotal: 10 } as never };
  private listeners = new Set<(s: IndexState) => void>();
  private finish!: () => void;
  private readonly idle = new Promise<void>((r) => (this.finish = r));
  constructor(readonly index: WorkspaceIndex) {}
  whenIdle(): Promise<void> {
    return this.idle;
  }
  onDidChangeState(listener: (s: IndexState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  progress(done: number): void {
    this.state = { kind: "indexing", progress: { phase: "parsing", filesDone: done, filesTotal: 10 } as never };
    for (const l of this.listeners) l(this.state);
  }
  done(): void {
    this.state = { kind: "ready" };
    for (const l of this.listeners) l(this.state);
    this.finish();
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}


async function collect(parts: AsyncIterable<AnswerPart>): Promise<AnswerPart[]> {
  const out: AnswerPart[] = [];
  for await (const p of parts) out.push(p);
  return out;
}

test("a question asked while the index builds waits (reporting progress), then answers with citations", async () => {
  const controller = new FakeController(index);
  const answerer = new IndexAnswerer(controller as unknown as IndexController);
  const statuses: string[] = [];
  const token = new Token();
  const pending = collect(answerer.answer({ question: "Where is RateLimiter defined?", onStatus: (s) => statuses.push(s) }, token.token));
  await new Promise((r) => setTimeout(r, 250));
  controller.progress(7);
  await new Promise((r) => setTimeout(r, 10));
  controller.done();
  const parts = await pending;
  assert.equal(parts.length, 1);
  assert.ok(parts[0].done);
  assert.ok(parts[0].citations.some((c) => c.path === "src/limiter.ts" && c.line === 2), JSON.stringify(parts[0].citations));
  assert.equal(statuses[0], "Waiting for the index: 1/10 files…");
  assert.ok(statuses.includes("Waiting for the index: 7/10 files…"), JSON.stringify(statuses));
  assert.equal(controller.listenerCount, 0, "progress listener released");
  assert.equal(token.listenerCount, 0, "cancellation listener released");
});

test("cancelling a waiting question ends it at once, with no answer, although the index is still building", async () => {
  const controller = new FakeController(index);
  const answerer = new IndexAnswerer(controller as unknown as IndexController);
  const token = new Token();
  const pending = collect(answerer.answer({ question: "Where is RateLimiter defined?" }, token.token));
  await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  token.cancel();
  const parts = await pending;
  assert.deepEqual(parts, []);
  assert.ok(Date.now() - t0 < 100, "it did not wait for the index");
  assert.equal(controller.state.kind, "indexing");
  assert.equal(controller.listenerCount, 0);
});

test("a question cancelled before it starts yields nothing; an idle index answers at once", async () => {
  const controller = new FakeController(index);
  controller.done();
  const answerer = new IndexAnswerer(controller as unknown as IndexController);
  const cancelled = new Token();
  cancelled.cancel();
  assert.deepEqual(await collect(answerer.answer({ question: "RateLimiter" }, cancelled.token)), []);
  const statuses: string[] = [];
  const parts = await collect(answerer.answer({ question: "@src/limiter.ts", onStatus: (s) => statuses.push(s) }, new Token().token));
  assert.deepEqual(statuses, [], "no waiting status when the index is ready");
  assert.match(parts[0].markdown, /Scoped to `src\/limiter.ts`/);
});

test("Ask About Selection cites the selection first, then what it uses", async () => {
  const controller = new FakeController(index);
  controller.done();
  const answerer = new IndexAnswerer(controller as unknown as IndexController);
  const selection = { root: "ws", path: "src/api.ts", startLine: 2, endLine: 2, text: "const limiter = new RateLimiter();" };
  const [part] = await collect(answerer.answer({ question: "Explain this code", selection }, new Token().token));
  assert.deepEqual(part.citations[0], { root: "ws", path: "src/api.ts", line: 2, endLine: 2 });
  assert.ok(part.citations.some((c) => c.path === "src/limiter.ts" && c.line === 2));
  assert.match(part.markdown, /^\*\*Selection\*\* src\/api.ts:2 uses `RateLimiter`\./);
});
