import assert from "node:assert/strict";
import { test } from "node:test";
import { QuestionRecall, applyMention, mentionAt, splitMentions } from "../../webview/src/composer-logic";
import { rng } from "../helpers/tmp-tree";

test("Up walks back through earlier questions, Down forward and back to the draft", () => {
  const r = new QuestionRecall();
  r.setHistory(["first", "second"]);
  r.remember("third");
  assert.equal(r.older("my draft"), "third");
  assert.equal(r.older("third"), "second");
  assert.equal(r.older("second"), "first");
  assert.equal(r.older("first"), undefined, "nothing older than the first question");
  assert.equal(r.newer(), "second");
  assert.equal(r.newer(), "third");
  assert.equal(r.newer(), "my draft", "past the newest question, the draft comes back");
  assert.equal(r.newer(), undefined);
  assert.equal(r.recalling, false);
});

test("asking or editing ends recall; the next Up starts from the newest question", () => {
  const r = new QuestionRecall();
  r.remember("a");
  r.remember("b");
  assert.equal(r.older(""), "b");
  r.reset();
  assert.equal(r.older(""), "b");
  r.remember("c");
  assert.equal(r.older(""), "c");
  r.remember("c");
  r.reset();
  assert.equal(r.older(""), "c");
  assert.equal(r.older("c"), "b", "a repeated question is remembered once");
  assert.equal(new QuestionRecall().older(""), undefined);
});

test("recall matches a reference model on random key sequences (fresh seed each run)", () => {
  const seed = Date.now() >>> 0;
  const random = rng(seed);
  for (let round = 0; round < 200; round++) {
    const past = Array.from({ length: Math.floor(random() * 5) }, (_, i) => `q${i}`);
    const r = new QuestionRecall();
    r.setHistory(past);
    let pos = past.length;
    let draft = "";
    let shown = "draft-" + round;
    for (let step = 0; step < 12; step++) {
      if (random() < 0.55) {
        const got = r.older(shown);
        if (pos === 0) assert.equal(got, undefined, `seed ${seed}`);
        else {
          if (pos === past.length) draft = shown;
          pos--;
          assert.equal(got, past[pos], `seed ${seed} round ${round} step ${step}`);
          shown = got!;
        }
      } else {
        const got = r.newer();
        if (pos === past.length) assert.equal(got, undefined, `seed ${seed}`);
        else {
          pos++;
          const expected = pos === past.length ? draft : past[pos];
          assert.equal(got, expected, `seed ${seed} round ${round} step ${step}`);
          shown = got!;
        }
      }
    }
  }
});

test("mentionAt finds the @fragment at the caret, only at a word start", () => {
  assert.deepEqual(mentionAt("explain @src/bil", 16), { start: 8, fragment: "src/bil" });
  assert.deepEqual(mentionAt("@", 1), { start: 0, fragment: "" });
  assert.deepEqual(mentionAt("a @Rate limiter", 7), { start: 2, fragment: "Rate" });
  assert.equal(mentionAt("mail me@example", 15), undefined, "an e-mail address is not a mention");
  assert.equal(mentionAt("done @file then", 15), undefined, "the caret has left the mention");
});

test("applyMention replaces the typed fragment (and the rest of that word) and puts the caret after it", () => {
  const text = "why @src/bi is slow";
  const at = mentionAt(text, 11)!;
  const r = applyMention(text, 11, at, "src/billing.ts");
  assert.equal(r.text, "why @src/billing.ts is slow");
  assert.equal(r.text.slice(0, r.caret), "why @src/billing.ts ");
  const r2 = applyMention("@Ra", 3, mentionAt("@Ra", 3)!, "RateLimiter");
  assert.deepEqual(r2, { text: "@RateLimiter ", caret: 13 });
  const mid = "x @Raxx y";
  const r3 = applyMention(mid, 5, mentionAt(mid, 5)!, "RateLimiter");
  assert.equal(r3.text, "x @RateLimiter y");
});

test("splitMentions marks @tokens for display and keeps every character", () => {
  const text = "ask @src/a.ts about @Foo, not me@x.com";
  const parts = splitMentions(text);
  assert.equal(parts.map((p) => p.text).join(""), text);
  assert.deepEqual(parts.filter((p) => p.mention).map((p) => p.text), ["@src/a.ts", "@Foo,"]);
});
