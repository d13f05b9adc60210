/**
 * One model answer on the calling thread: the question after the repository (RepoSession.ask, prompt
 * `layout.withQuestion(q)`), decoding until <|endanswer|> with grounded citations (grounded-citations.ts), streamed
 * as events: prose text, each citation once complete, and at the end the answer, its citations, the files it read
 * (attention mass, and in each file the definitions it read most) and its timings. The generator's return value adds the raw answer text (markers spelled out). The worker (model-service.ts) and the evaluation both use it.
 */
import type { RepoSession } from "../engine/repo-session";
import type { RepoLayout } from "../layout/repo-layout";
import type { CodeTokenizer } from "../tokenizer";
import { SPECIAL_TOKENS } from "../tokenizer/special-tokens";
import { definitionReads } from "./definition-reads";
import { GroundedDecoder, type GroundingIndex, PathTrie } from "./grounded-citations";
import { DefinedNames } from "./grounded-labels";
import type { ModelAnswer, ModelAnswerEvent, ModelFileRead } from "./model-client";

export interface ModelAnswerOptions {
  maxNewTokens?: number;
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Grounded citations (default true); false samples paths and lines freely (to measure what grounding buys). */
  grounded?: boolean;
  /** What citations may name in this layout (build once per layout: citationGrounding). */
  grounding?: CitationGrounding;
  /** Misspelt labels read as the nearest defined name (default true with `grounded`); false: an ablation. */
  repairLabels?: boolean;
}

/** What a citation may name: the laid-out files' paths and their definitions' names. */
export interface CitationGrounding {
  trie: PathTrie;
  names: DefinedNames;
}

/** Files the model can cite (paths encoded as the layout encodes them) and the names they define. */
export function citationGrounding(layout: RepoLayout, tokenizer: Pick<CodeTokenizer, "encode">, index: GroundingIndex): CitationGrounding {
  const files = layout.fileBlocks();
  return {
    trie: PathTrie.build(files, (p) => tokenizer.encode(p)),
    names: new DefinedNames(files.flatMap((f) => (index.get(f.root, f.path)?.definitions ?? []).map((d) => d.name))),
  };
}

const MIN_SHARE = 0.005;

export async function* answerWithModel(
  session: RepoSession,
  tokenizer: CodeTokenizer,
  index: GroundingIndex,
  question: string,
  opts: ModelAnswerOptions = {},
): AsyncGenerator<ModelAnswerEvent, { answer: ModelAnswer; raw: string }, void> {
  const t0 = performance.now();
  const special = new Set(SPECIAL_TOKENS.map((t) => tokenizer.specialTokenId(t)));
  const id = (t: (typeof SPECIAL_TOKENS)[number]) => tokenizer.specialTokenId(t);
  const grounded = opts.grounded !== false;
  const grounding = grounded ? (opts.grounding ?? citationGrounding(session.layout, tokenizer, index)) : undefined;
  const decoder = grounding
    ? new GroundedDecoder({
        trie: grounding.trie,
        names: opts.repairLabels === false ? undefined : grounding.names,
        index,
        question,
        ids: { cite: id("<|cite|>"), endCite: id("<|endcite|>"), colon: tokenizer.encode(":")[0] },
        encode: (s) => tokenizer.encode(s),
        decodeBytes: (ids) => tokenizer.decodeBytes(ids),
        // Layout markers have no place in an answer; the stop tokens stay allowed.
        forbidden: SPECIAL_TOKENS.filter((t) => !["<|endanswer|>", "<|eos|>", "<|cite|>", "<|endcite|>"].includes(t)).map(id),
      })
    : undefined;
  const text = new TextDecoder("utf-8");
  let answer = "";
  let firstAt = 0;
  let count = 0;
  let stop: ModelAnswer["stop"] = "length";
  const raw: number[] = [];
  for await (const t of session.ask(question, {
    maxNewTokens: opts.maxNewTokens ?? 256,
    sampling: { temperature: opts.temperature ?? 0, seed: opts.seed },
    signal: opts.signal,
    choose: decoder ? (logits, sample) => decoder.choose(logits, sample) : undefined,
  })) {
    if (count++ === 0) firstAt = performance.now();
    raw.push(t.id);
    if (t.id === id("<|endanswer|>") || t.id === id("<|eos|>")) {
      stop = "end";
      break;
    }
    // Prose and citations as people read them: markers dropped, the path and ":line" kept.
    const piece = special.has(t.id) ? "" : text.decode(tokenizer.decodeBytes([t.id]), { stream: !t.last });
    if (piece) {
      answer += piece;
      yield { kind: "token", text: piece };
    }
    if (decoder?.completed) yield { kind: "citation", citation: decoder.completed };
    // Decode steps run inline (engine.ts: small calls skip libuv's pool), so give the event loop a turn per token:
    // a worker must see a "cancel" message mid-answer, not after it.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const tail = text.decode();
  if (tail) {
    answer += tail;
    yield { kind: "token", text: tail };
  }
  const end = performance.now();
  const citations = decoder?.citations ?? ungroundedCitations(tokenizer.decode(raw));
  const decodeTokens = Math.max(0, count - 1);
  const decodeMs = count ? end - firstAt : 0;
  const result: ModelAnswer = {
    text: answer.trim(),
    citations,
    readMap: readShares(session, index),
    timings: {
      timeToFirstTokenMs: (firstAt || end) - t0,
      decodeTokens,
      decodeMs,
      decodeTokensPerSecond: decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0,
    },
    stop,
  };
  yield { kind: "done", answer: result };
  // The answer's ids decoded with the markers spelled out (forced citation tokens included): the evaluation's input.
  return { answer: result, raw: tokenizer.decode(raw) };
}

function ungroundedCitations(raw: string): ModelAnswer["citations"] {
  const out: ModelAnswer["citations"] = [];
  for (const line of raw.split("\n")) {
    for (const m of line.matchAll(/([^\n]*?)<\|cite\|>([^\n]*?):(\d+)<\|endcite\|>/g)) {
      out.push({ path: m[2], line: Number(m[3]), label: m[1].replace(/<\|[a-z_]+\|>/g, "").trim() });
    }
  }
  return out;
}

/** The files the answer read (shares ≥ MIN_SHARE), each with the definitions it read most (definition-reads.ts). */
export function readShares(session: RepoSession, index: GroundingIndex): ModelFileRead[] {
  const map = session.readMap();
  if (!map) return [];
  return map.files
    .filter((f) => f.mass >= MIN_SHARE)
    .map((f) => {
      const definitions = definitionReads(f, index.get(f.root, f.path)?.definitions ?? []);
      return definitions.length ? { root: f.root, path: f.path, share: f.mass, definitions } : { root: f.root, path: f.path, share: f.mass };
    });
}
