import assert from "node:assert/strict";
import { test } from "node:test";
import { inert } from "../../extension/src/inert-text";

/** The bare-URL, www and e-mail shapes that markdown renderers (GFM autolinks) turn into links. */
const AUTOLINK = /\b(?:https?|ftp|file|mailto|command|javascript|vscode):\/\/|\bwww\.|[\w.+-]+@[\w-]+\.[\w.]+/i;

test("URLs, www names and e-mail addresses in doc text no longer look like links, and read the same", () => {
  const doc = 'See https://example.invalid/x, www.example.invalid, ftp://h/f, me@example.invalid and <iframe src="https://a.b/">';
  const out = inert(doc);
  assert.equal(AUTOLINK.test(out), false, out);
  assert.equal(out.replace(/\u2060/g, ""), doc, "only invisible word joiners were added");
});

test("text without link shapes is unchanged", () => {
  const doc = "Computes the total: price * quantity (rounded), see computeTotal().";
  assert.equal(inert(doc), doc);
});
