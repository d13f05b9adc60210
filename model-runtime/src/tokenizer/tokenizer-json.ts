// Writes a trained BPE model as a HuggingFace tokenizer.json: special tokens first (ids 0..S-1, also listed as
// added_tokens with special: true), then the 256 byte tokens (id S + byte value), then the learned tokens in the
// order they were learned. Pieces come from a Split pre-tokenizer with our pattern followed by ByteLevel without
// its own regex; decoding is ByteLevel.
import { BYTE_TO_UNICODE, bytesToByteLevel } from "./byte-level";
import type { BpeModel } from "./bpe-trainer";
import { preTokenizerJson } from "./pretokenizer";

export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: Array<{ id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }>;
  normalizer: null;
  pre_tokenizer: object;
  post_processor: null;
  decoder: object;
  model: {
    type: "BPE";
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: Array<[string, string]>;
  };
}

export function buildTokenizerJson(model: BpeModel, specialTokens: readonly string[], preTokenizerRegex: string): TokenizerJson {
  const offset = specialTokens.length;
  const vocab: Record<string, number> = Object.create(null);
  specialTokens.forEach((t, id) => (vocab[t] = id));
  const strings = model.tokens.map((bytes, id) => (id < 256 ? BYTE_TO_UNICODE[id] : bytesToByteLevel(bytes)));
  strings.forEach((s, id) => {
    if (s in vocab) throw new Error(`learned token ${JSON.stringify(s)} collides with a special token`);
    vocab[s] = id + offset;
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: preTokenizerJson(preTokenizerRegex),
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: model.merges.map(([l, r]) => [strings[l], strings[r]]),
    },
  };
}

/** A byte-level tokenizer.json with no learned tokens: one token per byte (the "plain bytes" baseline). */
export function bytesOnlyModel(): BpeModel {
  return { tokens: Array.from({ length: 256 }, (_, b) => Uint8Array.of(b)), merges: [] };
}

/** tokenizer.json text with one added token, vocabulary entry and merge per line: compact, and diffs stay readable. */
export function serializeTokenizerJson(json: TokenizerJson): string {
  const { added_tokens, model, ...rest } = json;
  const { vocab, merges, ...modelRest } = model;
  const lines: string[] = [];
  for (const [k, v] of Object.entries(rest)) lines.push(` ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  lines.push(` "added_tokens": [\n${added_tokens.map((t) => `  ${JSON.stringify(t)}`).join(",\n")}\n ]`);
  const vocabLines = Object.entries(vocab)
    .sort((a, b) => a[1] - b[1])
    .map(([k, v]) => `${JSON.stringify(k)}: ${v}`)
    .join(",\n");
  const mergeLines = merges.map((m) => JSON.stringify(m)).join(",\n");
  lines.push(` "model": {${JSON.stringify(modelRest).slice(1, -1)},\n "vocab": {\n${vocabLines}\n },\n "merges": [\n${mergeLines}\n ]}`);
  return `{\n${lines.join(",\n")}\n}\n`;
}
