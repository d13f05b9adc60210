// Longview's code tokenizer: a byte-level BPE that we train (scripts/tokenizer/), shipped as a HuggingFace
// tokenizer.json and loaded with @huggingface/tokenizers. Encoding of repository text goes through FastBpeEncoder,
// which is checked token-for-token against the library and is several times faster on large repositories
// (docs/benchmarks/tokenizer.md); the library does decoding and special-token-aware encoding.
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { byteLevelToBytes } from "./byte-level";
import { FastBpeEncoder } from "./fast-encoder";
import { compilePreTokenizer } from "./pretokenizer";
import { SPECIAL_TOKENS, type SpecialToken } from "./special-tokens";
import type { TokenizerJson } from "./tokenizer-json";

export { SPECIAL_TOKENS, LAYOUT_SPECIAL_TOKENS, type SpecialToken } from "./special-tokens";

const ASSET = path.join("assets", "tokenizer", "tokenizer.json");

/** Where the shipped tokenizer.json is: next to the bundle in dist/, or in model-runtime/assets from source. */
export function defaultTokenizerPath(): string {
  const candidates = [
    path.join(__dirname, ASSET), // dist/extension.js, dist/cli.js → dist/assets/tokenizer/
    path.join(__dirname, "..", ASSET), // dist/bench/*.js
    path.join(__dirname, "..", "..", ASSET), // model-runtime/src/tokenizer/*.ts (tsx) → model-runtime/assets/
    path.join(process.cwd(), "model-runtime", ASSET), // a bundle run from the repository root before assets were copied
  ];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`tokenizer.json not found; looked in:\n  ${candidates.join("\n  ")}`);
  return found;
}

export interface EncodingWithOffsets {
  ids: Int32Array;
  /** UTF-16 index in the input (what JS strings and VS Code positions use) of the character holding each token's first byte. */
  offsets: Uint32Array;
  /** UTF-8 byte offset where each token starts; exact even when a token begins inside a multi-byte character. */
  byteOffsets: Uint32Array;
}

export class CodeTokenizer {
  /** Number of ids: every id in [0, vocabSize) is a token. */
  readonly vocabSize: number;
  private readonly library: Tokenizer;
  /** The same tokenizer without added tokens, so special-token strings in content stay text. */
  private readonly plainLibrary: Tokenizer;
  private readonly fast: FastBpeEncoder;
  private readonly specialIds = new Map<string, number>();
  private readonly tokenBytes: Uint8Array[];

  private constructor(json: TokenizerJson) {
    if (json?.model?.type !== "BPE" || typeof json.model.vocab !== "object" || !Array.isArray(json.model.merges)) {
      throw new Error("not a BPE tokenizer.json");
    }
    this.library = new Tokenizer(json, { clean_up_tokenization_spaces: false });
    this.plainLibrary = new Tokenizer({ ...json, added_tokens: [] }, { clean_up_tokenization_spaces: false });
    const split = (json.pre_tokenizer as { pretokenizers?: Array<{ type: string; pattern?: { Regex?: string } }> }).pretokenizers?.[0];
    const regex = split?.type === "Split" ? split.pattern?.Regex : undefined;
    if (!regex) throw new Error("tokenizer.json: expected a Split pre-tokenizer with a Regex pattern first");
    this.fast = new FastBpeEncoder(json.model, compilePreTokenizer(regex));
    for (const t of json.added_tokens) if (t.special) this.specialIds.set(t.content, t.id);
    for (const t of SPECIAL_TOKENS) if (!this.specialIds.has(t)) throw new Error(`tokenizer.json lacks special token ${t}`);
    const ids = Object.values(json.model.vocab);
    this.vocabSize = Math.max(...ids) + 1;
    if (new Set(ids).size !== this.vocabSize) throw new Error("tokenizer.json: vocabulary ids are not 0..N-1");
    const encoder = new TextEncoder();
    this.tokenBytes = Array.from({ length: this.vocabSize }, (_, id) => {
      const token = this.library.id_to_token(id)!;
      return this.specialIds.has(token) ? encoder.encode(token) : byteLevelToBytes(token);
    });
  }

  /** Loads a tokenizer.json (default: the one shipped with Longview). Throws a clear error on a missing or corrupt file. */
  static load(file: string = defaultTokenizerPath()): CodeTokenizer {
    let json: TokenizerJson;
    try {
      json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`cannot read tokenizer ${file}: ${(e as Error).message}`);
    }
    return CodeTokenizer.fromJSON(json, file);
  }

  static fromJSON(json: TokenizerJson, origin = "tokenizer.json"): CodeTokenizer {
    try {
      return new CodeTokenizer(json);
    } catch (e) {
      throw new Error(`invalid tokenizer ${origin}: ${(e as Error).message}`);
    }
  }

  /** Ids of `text` as plain content: a `<|file|>` written in a source file is ordinary text, never a special token. */
  encode(text: string): Int32Array {
    return this.fast.encode(text);
  }

  /** Ids plus where each token starts in `text` (see EncodingWithOffsets). */
  encodeWithOffsets(text: string): EncodingWithOffsets {
    return this.fast.encodeWithOffsets(text);
  }

  /** Ids of `text` in which special-token strings become their special ids (for prompts we write, never for repository content). */
  encodeWithSpecialTokens(text: string): Int32Array {
    return Int32Array.from(this.library.encode(text, { add_special_tokens: false }).ids);
  }

  /** The library's own encoding of plain content (slow; the reference the fast path is tested against). */
  encodeReference(text: string): Int32Array {
    return Int32Array.from(this.plainLibrary.encode(text, { add_special_tokens: false }).ids);
  }

  /** Text of some ids. Bytes that are not valid UTF-8 on their own (a cut multi-byte character) become U+FFFD. */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return "";
    for (let i = 0; i < ids.length; i++) {
      if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= this.vocabSize) throw new Error(`token id out of range: ${ids[i]}`);
    }
    return this.library.decode(Array.from(ids), { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }

  /** The exact bytes of some ids (special tokens as their text). */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.tokenBytes[ids[i]].length;
    const out = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      out.set(this.tokenBytes[ids[i]], at);
      at += this.tokenBytes[ids[i]].length;
    }
    return out;
  }

  /** Id of a special token, e.g. specialTokenId("<|file|>"). */
  specialTokenId(token: SpecialToken): number {
    const id = this.specialIds.get(token);
    if (id === undefined) throw new Error(`unknown special token ${token}`);
    return id;
  }

  /** The vocabulary string of an id (byte-level form for learned tokens). */
  idToToken(id: number): string | undefined {
    return this.library.id_to_token(id);
  }
}
