import assert from "node:assert/strict";
import { test } from "node:test";
import { ChatSession, HISTORY_KEY, type StateStore } from "../../extension/src/chat-session";
import type { AnswerContent } from "../../webview/src/protocol";
import { rng } from "../helpers/tmp-tree";

/** A Memento that keeps values the way VS Code's does: a JSON round trip per update. */
class JsonStore implements StateStore {
  readonly data = new Map<string, string>();
  updates = 0;
  get<T>(key: string): T | undefined {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async update(key: string, value: unknown): Promise<void> {
    this.updates++;
    this.data.set(key, JSON.stringify(value));
  }
}

const answer = (markdown: string): AnswerContent => ({ markdown, citations: [{ root: "ws", path: "a.ts", line: 3 }], source: "index", files: [{ root: "ws", path: "a.ts", weight: 1 }] });

test("a conversation survives a restart: same questions, answers and states, in order", () => {
  const store = new JsonStore();
  const first = new ChatSession(store);
  const a = first.start("where is foo?");
  first.answer(a.id, answer("foo is at a.ts:3"), true);
  const b = first.start("and bar?");
  first.stop(b.id);
  const c = first.start("and baz?");
  first.fail(c.id, "the index is corrupt");

  const second = new ChatSession(store);
  assert.deepEqual(second.entries(), first.entries());
  assert.deepEqual(second.entries().map((e) => e.state), ["done", "stopped", "error"]);
  assert.equal(second.entries()[0].answer?.markdown, "foo is at a.ts:3");
  assert.deepEqual(second.questions(), ["where is foo?", "and bar?", "and baz?"]);
});

test("an answer in progress when VS Code closed comes back as stopped, with what had arrived", () => {
  const store = new JsonStore();
  const s = new ChatSession(store);
  const e = s.start("slow question");
  s.answer(e.id, answer("partial"), false);
  // Streaming parts are not saved one by one; the entry was saved when asked.
  const restored = new ChatSession(store).entries();
  assert.equal(restored.length, 1);
  assert.equal(restored[0].state, "stopped");
});

test("streamed parts do not write to the store; finishing does", () => {
  const store = new JsonStore();
  const s = new ChatSession(store);
  const e = s.start("q");
  const afterStart = store.updates;
  for (let i = 0; i < 20; i++) s.answer(e.id, answer(`part ${i}`), false);
  assert.equal(store.updates, afterStart);
  s.answer(e.id, answer("final"), true);
  assert.equal(store.updates, afterStart + 1);
  assert.equal(new ChatSession(store).entries()[0].answer?.markdown, "final");
});

test("a finished entry ignores late parts and a second stop", () => {
  const s = new ChatSession(new JsonStore());
  const e = s.start("q");
  s.stop(e.id);
  s.answer(e.id, answer("too late"), true);
  s.fail(e.id, "too late");
  assert.equal(s.get(e.id)?.state, "stopped");
  assert.equal(s.get(e.id)?.answer, undefined);
});

test("clear empties the conversation and the store", async () => {
  const store = new JsonStore();
  const s = new ChatSession(store);
  s.start("one");
  s.start("two");
  await s.clear();
  assert.equal(s.entries().length, 0);
  assert.equal(new ChatSession(store).entries().length, 0);
});

test("history is bounded: the oldest entries go first (random sizes)", () => {
  const seed = Date.now() >>> 0;
  const random = rng(seed);
  const store = new JsonStore();
  const maxEntries = 5 + Math.floor(random() * 10);
  const maxChars = 4000 + Math.floor(random() * 4000);
  const s = new ChatSession(store, { maxEntries, maxChars });
  const asked: string[] = [];
  for (let i = 0; i < 60; i++) {
    const q = `question ${i} ${"x".repeat(Math.floor(random() * 400))}`;
    asked.push(q);
    const e = s.start(q);
    s.answer(e.id, answer("y".repeat(Math.floor(random() * 600))), true);
  }
  const kept = new ChatSession(store).questions();
  assert.ok(kept.length >= 1 && kept.length <= maxEntries, `seed ${seed}: kept ${kept.length} of max ${maxEntries}`);
  assert.deepEqual(kept, asked.slice(asked.length - kept.length), `seed ${seed}: the newest entries are kept, in order`);
  assert.ok(store.data.get(HISTORY_KEY)!.length <= maxChars + 200 || kept.length === 1, `seed ${seed}: saved size within the limit`);
});

test("stored garbage is dropped with a reason instead of breaking the chat", () => {
  const store = new JsonStore();
  store.data.set(HISTORY_KEY, JSON.stringify({ format: 1, entries: [{ id: "1", question: "ok", state: "done", askedAt: 1 }, { id: 2 }, "junk", { id: "3", question: "q", state: "weird", askedAt: 1 }] }));
  const s = new ChatSession(store);
  assert.deepEqual(s.questions(), ["ok"]);
  assert.match(s.loadProblems.join(" "), /3 malformed/);

  store.data.set(HISTORY_KEY, JSON.stringify({ format: 99, entries: [] }));
  const t = new ChatSession(store);
  assert.equal(t.entries().length, 0);
  assert.match(t.loadProblems.join(" "), /unknown format/);
});

test("ids stay unique across restarts", () => {
  const store = new JsonStore();
  let clock = 1000;
  const s1 = new ChatSession(store, undefined, () => clock);
  const ids = [s1.start("a").id, s1.start("b").id];
  clock = 2000;
  const s2 = new ChatSession(store, undefined, () => clock);
  ids.push(s2.start("c").id, s2.start("d").id);
  assert.equal(new Set(ids).size, ids.length);
});
