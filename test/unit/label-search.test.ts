import assert from "node:assert/strict";
import { test } from "node:test";
import { AGREEMENT_RANKS, LabelTrie, calibrate, fuseWithRetrieved, labelOf, labelsOf, leadWithAgreement, rankLabels, scoreLabels } from "../../model-runtime/src/answer/label-search";
import { asksForOneDefinition, asksWhereDefined, definitionAsked, matchedRunnersUpFirst } from "../../model-runtime/src/answer/model-answer";
import { SeededRandom } from "../../model-runtime/src/model/random-init";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";

const tok = CodeTokenizer.load();
const seed = Number(process.env.LONGVIEW_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** Definitions of a few files; several share prefixes ("parse", "parseArgs", "Parser.parse") as real code does. */
const FILES = [
  { file: { root: "ws", path: "src/parse.ts" }, definitions: [{ name: "parse" }, { name: "parseArgs" }, { name: "parse", container: "Parser" }, { name: "Parser" }] },
  { file: { root: "ws", path: "src/rates.ts" }, definitions: [{ name: "rate" }, { name: "rateLimit" }, { name: "add", container: "LinkedList<T>" }] },
  { file: { root: "ws", path: "lib/parse.py" }, definitions: [{ name: "parse" }, { name: "is_pep695" }, { name: "is_pep593" }] },
];

/** A fake model: seeded pseudo-random logits for every answer prefix (the same prefix, the same logits). */
function fakeModel(seedValue: number, vocab = tok.vocabSize): { logits: (ids: readonly number[]) => Float32Array } {
  const memo = new Map<string, Float32Array>();
  return {
    logits: (ids) => {
      const key = ids.join(",");
      let l = memo.get(key);
      if (!l) {
        const r = new SeededRandom(seedValue ^ (key.length * 2654435761) ^ hash(key));
        l = new Float32Array(vocab);
        for (let i = 0; i < vocab; i++) l[i] = 4 * r.normal();
        memo.set(key, l);
      }
      return l;
    },
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function logSoftmaxAt(l: Float32Array, id: number): number {
  let m = -Infinity;
  for (const v of l) m = Math.max(m, v);
  let s = 0;
  for (const v of l) s += Math.exp(v - m);
  return l[id] - m - Math.log(s);
}

test("label search returns the labels in the model's own order of probability (brute force agrees)", async () => {
  const trie = LabelTrie.build(FILES, (t) => tok.encode(t));
  const labels = ["parse", "parseArgs", "Parser.parse", "Parser", "rate", "rateLimit", "add", "LinkedList.add", "is_pep695", "is_pep593"];
  assert.equal(trie.size, labels.length, "every name and Container.name (generics dropped) once");
  for (let round = 0; round < 4; round++) {
    const model = fakeModel(seed + round);
    // Brute force: each label's log-probability as the sum over its tokens.
    const truth = labels
      .map((label) => {
        const ids = [...tok.encode(`${label} `)];
        let lp = 0;
        for (let i = 0; i < ids.length; i++) lp += logSoftmaxAt(model.logits(ids.slice(0, i)), ids[i]);
        return { label, lp };
      })
      .sort((a, b) => b.lp - a.lp);
    let calls = 0;
    const ranked = await rankLabels(trie, model.logits([]), async (ids) => (calls++, model.logits(ids)), { k: 5, maxExpansions: 1000 });
    assert.deepEqual(ranked.map((r) => r.label), truth.slice(0, 5).map((t) => t.label), `seed ${seed + round}`);
    ranked.forEach((r, i) => assert.ok(Math.abs(r.logprob - truth[i].lp) < 1e-3, `${r.label}: ${r.logprob} vs ${truth[i].lp}`));
    assert.deepEqual(ranked[0].ids, [...tok.encode(`${ranked[0].label} `)]);
    // Files: a name defined in two files keeps both.
    const parse = (await rankLabels(trie, model.logits([]), async (ids) => model.logits(ids), { k: 10, maxExpansions: 1000 })).find((r) => r.label === "parse")!;
    assert.deepEqual(parse.files.map((f) => f.path).sort(), ["lib/parse.py", "src/parse.ts"]);
    // A budget of model calls cuts the list, never its order.
    const cut = await rankLabels(trie, model.logits([]), async (ids) => model.logits(ids), { k: 5, maxExpansions: 2 });
    const order = truth.map((t) => t.label);
    for (let i = 1; i < cut.length; i++) assert.ok(order.indexOf(cut[i - 1].label) < order.indexOf(cut[i].label));
    assert.ok(calls > 0);
  }
});

test("asksForOneDefinition: where-defined and description questions, not lists, uses or explanations", () => {
  const one = ["Where is `parse` defined?", "Where is parse defined?", "Find the definition of `parse`.", "Which file defines `parse`?", "Go to the definition of parse.",
    "Which definition does this describe? Parses the command line.", "Find the code that matches this description: parses arguments.", "Where is this implemented? Reads a file.", "Parses a header. Where is that?"];
  const notOne = ["Who uses `parse`?", "Where is `parse` used?", "Find the references to parse.", "Which code mentions `parse`?",
    "What does `parse` call?", "Which definitions does `parse` use?", "What does parse depend on?", "List what `parse` calls.",
    "Explain `parse`.", "What does `parse` do?", "Describe parse.", "What is `parse` for?"];
  for (const q of one) assert.ok(asksForOneDefinition(q), q);
  for (const q of notOne) assert.ok(!asksForOneDefinition(q), q);
  // Which of them name what they ask for (searched in the model's order) and which describe it (calibrated).
  for (const q of one.slice(0, 5)) assert.ok(asksWhereDefined(q), q);
  for (const q of one.slice(5)) assert.ok(!asksWhereDefined(q), q);
  for (const q of notOne) assert.ok(!asksWhereDefined(q), q);
  // "… and who calls it?": the first part asks for one definition (its callers follow the answer); alone it asks nothing.
  assert.ok(asksForOneDefinition("where is the workspace index stored and who calls it?"));
  assert.equal(definitionAsked("where is the workspace index stored and who calls it?"), "where is the workspace index stored");
  assert.equal(definitionAsked("Where is the cache kept, and what uses it?"), "Where is the cache kept");
  assert.ok(!asksForOneDefinition("who calls it?"));
  // "… and what does it call?" likewise: its callees follow.
  assert.equal(definitionAsked("Where is url_for defined and what does it call?"), "Where is url_for defined");
  assert.ok(asksForOneDefinition("where is the request parser and what does it call?"));
  assert.equal(definitionAsked("what does make_response do, and what does it call?"), "what does make_response do");
  assert.equal(definitionAsked("Where is parse defined?"), "Where is parse defined?");
});

test("scoreLabels gives each label's log-probability; calibrate re-ranks the shortlist by PMI with the question", async () => {
  const trie = LabelTrie.build(FILES, (t) => tok.encode(t));
  const conditional = fakeModel(seed + 11);
  const prior = fakeModel(seed + 12);
  const shortlist = await rankLabels(trie, conditional.logits([]), async (ids) => conditional.logits(ids), { k: 6, maxExpansions: 1000 });
  const priors = await scoreLabels(shortlist, prior.logits([]), async (ids) => prior.logits(ids));
  shortlist.forEach((r, i) => {
    let lp = 0;
    for (let j = 0; j < r.ids.length; j++) lp += logSoftmaxAt(prior.logits(r.ids.slice(0, j)), r.ids[j]);
    assert.ok(Math.abs(priors[i] - lp) < 1e-3, `${r.label}: ${priors[i]} vs ${lp}`);
  });
  // Scoring a label against the same logits it was searched with gives back its own log-probability.
  const self = await scoreLabels(shortlist, conditional.logits([]), async (ids) => conditional.logits(ids));
  shortlist.forEach((r, i) => assert.ok(Math.abs(self[i] - r.logprob) < 1e-3));
  const reranked = calibrate(shortlist, priors);
  const pmi = (r: { label: string; logprob: number }) => r.logprob - priors[shortlist.findIndex((s) => s.label === r.label)];
  assert.deepEqual(new Set(reranked.map((r) => r.label)), new Set(shortlist.map((r) => r.label)), "only the shortlist is re-ranked");
  for (let i = 1; i < reranked.length; i++) assert.ok(pmi(reranked[i - 1]) >= pmi(reranked[i]));
  // A label the model favours whatever is asked (a high prior) drops below one the question makes likelier.
  const flat = calibrate([{ label: "main", logprob: -1, ids: [], files: [] }, { label: "parseArgs", logprob: -2, ids: [], files: [] }], [-0.5, -6]);
  assert.deepEqual(flat.map((r) => r.label), ["parseArgs", "main"]);
  // A partial correction (priorWeight w): ordered by logprob − w · prior; w = 0 keeps the model's own order.
  const siblings = [
    { label: "trimRightByte", logprob: -2.2, ids: [], files: [] },
    { label: "trimLeftByte", logprob: -0.6, ids: [], files: [] },
  ];
  assert.deepEqual(calibrate(siblings, [-26.7, -24.6]).map((r) => r.label), ["trimRightByte", "trimLeftByte"]);
  assert.deepEqual(calibrate(siblings, [-26.7, -24.6], 0.6).map((r) => r.label), ["trimLeftByte", "trimRightByte"]);
  const w = 0.6;
  const partial = calibrate(shortlist, priors, w);
  const score = (r: { label: string; logprob: number }) => r.logprob - w * priors[shortlist.findIndex((s) => s.label === r.label)];
  for (let i = 1; i < partial.length; i++) assert.ok(score(partial[i - 1]) >= score(partial[i]));
  assert.deepEqual(calibrate(shortlist, priors, 0).map((r) => r.label), shortlist.map((r) => r.label));
});

test("fuseWithRetrieved: the model's first stays; its runners-up by reciprocal rank fusion with a retriever's order", () => {
  const r = (label: string) => ({ label, logprob: 0, ids: [], files: [] });
  const model = ["a", "b", "c", "d", "e"].map(r);
  // No retrieved labels, or none of them ranked: the model's order stands.
  assert.deepEqual(fuseWithRetrieved(model, [], 3).map((x) => x.label), ["a", "b", "c", "d", "e"]);
  assert.deepEqual(fuseWithRetrieved(model, ["zz"], 3).map((x) => x.label), ["a", "b", "c", "d", "e"]);
  // d (4th, 1st): 1/7 + 1/4 beats b (2nd, absent): 1/5, and c (3rd, 2nd): 1/6 + 1/5 beats b too; a stays first
  // although the retriever does not list it.
  assert.deepEqual(fuseWithRetrieved(model, ["d", "c"], 3).map((x) => x.label), ["a", "d", "c", "b", "e"]);
  // The retriever's first cannot take the model's first place.
  assert.equal(fuseWithRetrieved(model, ["e", "d", "c", "b"], 1)[0].label, "a");
  // Mirror ranks tie (b: 2nd and 3rd, c: 3rd and 2nd): the model's order breaks it.
  assert.deepEqual(fuseWithRetrieved(model, ["x", "c", "b"], 3).slice(0, 3).map((x) => x.label), ["a", "b", "c"]);
  assert.deepEqual(fuseWithRetrieved([r("only")], ["z"], 3).map((x) => x.label), ["only"]);
  // A retrieved label outside the model's context competes by the retriever's term alone: x (1st) 1/4 beats b (2nd,
  // absent) 1/5 and loses to c (3rd, 2nd) 1/6 + 1/5; it is never first, even after a lone model label.
  assert.deepEqual(fuseWithRetrieved(["a", "b", "c"].map(r), ["x", "c"], 3, [r("x")]).map((x) => x.label), ["a", "c", "x", "b"]);
  assert.deepEqual(fuseWithRetrieved([r("only")], ["x"], 3, [r("x")]).map((x) => x.label), ["only", "x"]);
  // Random lists: after the first, sorted by the score the doc states; every label once.
  for (let trial = 0; trial < 20; trial++) {
    const labels = Array.from({ length: 12 }, (_, i) => `l${i}`).sort(() => Math.random() - 0.5);
    const retrieved = labels.filter(() => Math.random() < 0.5).sort(() => Math.random() - 0.5);
    const k = 1 + Math.floor(Math.random() * 10);
    const fused = fuseWithRetrieved(labels.map(r), retrieved, k).map((x) => x.label);
    assert.deepEqual([...fused].sort(), [...labels].sort());
    assert.equal(fused[0], labels[0]);
    const score = (l: string) => 1 / (k + labels.indexOf(l) + 1) + (retrieved.includes(l) ? 1 / (k + retrieved.indexOf(l) + 1) : 0);
    for (let i = 2; i < fused.length; i++) assert.ok(score(fused[i - 1]) >= score(fused[i]) - 1e-12, `${fused[i - 1]} before ${fused[i]}`);
  }
});

test("matchedRunnersUpFirst: the first stays; runners-up sharing a word with the question come before the rest, each in order", () => {
  const r = (label: string) => ({ label, logprob: 0, ids: [], files: [] });
  const order = (labels: string[], matched: string[]) => matchedRunnersUpFirst(labels.map(r), new Set(matched)).map((x) => x.label);
  assert.deepEqual(order(["a", "fav", "b", "fav2", "c"], ["a", "b", "c"]), ["a", "b", "c", "fav", "fav2"]);
  // The first place is the lead (agreement already decided it), matched or not.
  assert.deepEqual(order(["fav", "a", "b"], ["a", "b"]), ["fav", "a", "b"]);
  assert.deepEqual(order(["a", "b"], []), ["a", "b"]);
  assert.deepEqual(order([], ["a"]), []);
});

test("leadWithAgreement: the model's first leads when the retriever ranks it near the top or the question names it; else the best label the retriever ranks there", () => {
  const r = (label: string, writable = true) => ({ label, logprob: 0, ids: writable ? [1] : [], files: [] });
  const order = (ranked: ReturnType<typeof r>[], retrieved: string[]) => leadWithAgreement(ranked, retrieved).map((x) => x.label);
  const fused = ["a", "b", "c", "d", "e"].map((l) => r(l));
  assert.deepEqual(order(fused, ["b", "a"]), ["a", "b", "c", "d", "e"], "a is among the retriever's first");
  assert.deepEqual(order(fused, []), ["a", "b", "c", "d", "e"], "no retriever, no check");
  assert.deepEqual(order(fused, ["d", "x", "b"]), ["b", "a", "c", "d", "e"], "b comes first in the fused order among the retriever's first three");
  const farDown = ["x", "y", "z", "a"];
  assert.equal(AGREEMENT_RANKS, 3);
  assert.deepEqual(order(fused, farDown), ["a", "b", "c", "d", "e"], "a 4th hit is no agreement, and nothing else the retriever ranks is among the labels");
  assert.deepEqual(order([r("a"), r("b", false), r("c")], ["b", "c"]), ["b", "a", "c"], "a label in an unread file leads too (the index writes it)");
  assert.deepEqual(leadWithAgreement(fused, ["d"], (l) => l === "a").map((x) => x.label), ["a", "b", "c", "d", "e"], "the question names a");
  assert.deepEqual(leadWithAgreement(fused, ["d"], (l) => l === "b").map((x) => x.label), ["d", "a", "b", "c", "e"], "naming another label is no agreement");
  // Random lists: a permutation; the first is the model's exactly when it agrees or nothing else agrees.
  for (let trial = 0; trial < 50; trial++) {
    const labels = Array.from({ length: 8 }, (_, i) => r(`l${i}`, Math.random() < 0.7));
    const retrieved = labels.map((l) => l.label).filter(() => Math.random() < 0.5).sort(() => Math.random() - 0.5);
    const out = leadWithAgreement(labels, retrieved);
    assert.deepEqual(out.map((x) => x.label).sort(), labels.map((x) => x.label).sort());
    const top = new Set(retrieved.slice(0, AGREEMENT_RANKS));
    const candidate = labels.slice(1).find((l) => top.has(l.label));
    const expectedFirst = top.has(labels[0].label) || !candidate ? labels[0] : candidate;
    assert.equal(out[0].label, expectedFirst.label);
    assert.deepEqual(out.slice(1).map((x) => x.label), labels.filter((l) => l !== expectedFirst).map((x) => x.label), "the rest keep their order");
  }
});

test("labelOf names a definition as the trie holds it, Container.name before name; undefined when not laid out", () => {
  const trie = LabelTrie.build(FILES, (t) => tok.encode(t));
  assert.equal(labelOf(trie, { name: "parse", container: "Parser" }), "Parser.parse");
  assert.equal(labelOf(trie, { name: "parse" }), "parse");
  assert.equal(labelOf(trie, { name: "notLaidOutAnywhere" }), undefined);
});

test("LabelTrie.find gives a label's ids and files, the ones the search reaches it by", async () => {
  const trie = LabelTrie.build(FILES, (t) => tok.encode(t));
  const all = await rankLabels(trie, fakeModel(seed + 21).logits([]), async (ids) => fakeModel(seed + 21).logits(ids), { k: 100, maxExpansions: 10_000 });
  assert.equal(all.length, trie.size);
  for (const r of all) {
    const found = trie.find(r.label);
    assert.ok(found, r.label);
    assert.deepEqual(found.ids, r.ids);
    assert.deepEqual(found.files, r.files);
  }
  assert.deepEqual(trie.find("Parser.parse")?.files, [{ root: "ws", path: "src/parse.ts" }]);
  assert.deepEqual(trie.find("parse")?.files.map((f) => f.path), ["src/parse.ts", "lib/parse.py"]);
  assert.equal(trie.find("parseArg"), undefined, "a prefix of a label is not a label");
});

test("rankLabels with a first-token prior: labels come out by log P(label) − log P_prior(first token), logprob unchanged", async () => {
  const trie = LabelTrie.build(FILES, (t) => tok.encode(t));
  const model = fakeModel(seed + 31);
  const priorLogits = fakeModel(seed + 32).logits([]);
  const own = await rankLabels(trie, model.logits([]), async (ids) => model.logits(ids), { k: 100, maxExpansions: 10_000 });
  const steered = await rankLabels(trie, model.logits([]), async (ids) => model.logits(ids), { k: 100, maxExpansions: 10_000, firstTokenPrior: priorLogits });
  assert.equal(steered.length, own.length);
  const score = (r: { ids: number[]; logprob: number }) => r.logprob - logSoftmaxAt(priorLogits, r.ids[0]);
  for (let i = 1; i < steered.length; i++) assert.ok(score(steered[i - 1]) >= score(steered[i]) - 1e-6, `${steered[i - 1].label} before ${steered[i].label}`);
  for (const r of steered) assert.ok(Math.abs(r.logprob - own.find((o) => o.label === r.label)!.logprob) < 1e-6, r.label);
  // A prior that writes one first token whatever is asked sends the labels starting with it to the back.
  const first = own[0].ids[0];
  const loud = new Float32Array(priorLogits.length);
  loud[first] = 1000;
  const quiet = await rankLabels(trie, model.logits([]), async (ids) => model.logits(ids), { k: 100, maxExpansions: 10_000, firstTokenPrior: loud });
  const firstOthers = quiet.findIndex((r) => r.ids[0] === first);
  assert.ok(firstOthers > 0 && quiet.slice(firstOthers).every((r) => r.ids[0] === first), `labels starting with the loud token come last: ${quiet.map((r) => r.label + ":" + r.ids[0]).join(" ")} (loud ${first})`);
});

test("labelsOf: a retriever's definitions as trie labels, container label first, once each, none already taken", () => {
  const trie = LabelTrie.build(FILES, (t) => tok.encode(t));
  const got = labelsOf(trie, [{ name: "parse", container: "Parser" }, { name: "rate" }, { name: "missing" }, { name: "rate" }, { name: "parseArgs" }, { name: "add", container: "Nowhere" }], [{ label: "parseArgs" }]);
  assert.deepEqual(got.map((g) => g.label), ["Parser.parse", "rate", "add"]);
  for (const g of got) assert.deepEqual(g.ids, trie.find(g.label)!.ids);
});
