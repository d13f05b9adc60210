/**
 * What the layout needs from a tokenizer, the special-token ids it writes, and a cache of file encodings keyed
 * by content hash (a one-file edit re-encodes one file; a restart with a persisted cache encodes nothing).
 */
import type { SpecialToken } from "../tokenizer/special-tokens";

export interface LayoutTokenizer {
  /** Plain-content encoding (special-token strings in the text stay text) with the UTF-16 start of each token. */
  encodeWithOffsets(text: string): { ids: Int32Array; offsets: Uint32Array };
  specialTokenId(token: SpecialToken): number;
}

export interface SpecialIds {
  pad: number;
  bos: number;
  repoMap: number;
  file: number;
  path: number;
  endPath: number;
  endFile: number;
  anchor: number;
  endAnchor: number;
  sep: number;
}

export function specialIds(t: LayoutTokenizer): SpecialIds {
  return {
    pad: t.specialTokenId("<|pad|>"),
    bos: t.specialTokenId("<|bos|>"),
    repoMap: t.specialTokenId("<|repo_map|>"),
    file: t.specialTokenId("<|file|>"),
    path: t.specialTokenId("<|path|>"),
    endPath: t.specialTokenId("<|endpath|>"),
    endFile: t.specialTokenId("<|endfile|>"),
    anchor: t.specialTokenId("<|anchor|>"),
    endAnchor: t.specialTokenId("<|endanchor|>"),
    sep: t.specialTokenId("<|sep|>"),
  };
}

export interface Encoded {
  ids: Int32Array;
  offsets: Uint32Array;
}

/** Encodings by content hash, least recently used evicted past `maxTokens` in total. */
export class EncodingCache {
  private readonly entries = new Map<string, Encoded>();
  private tokens = 0;
  constructor(private readonly maxTokens = 8_000_000) {}

  get(key: string): Encoded | undefined {
    const e = this.entries.get(key);
    if (e) {
      // Refresh recency: Map iteration order is insertion order.
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  set(key: string, value: Encoded): void {
    const old = this.entries.get(key);
    if (old) this.tokens -= old.ids.length;
    this.entries.set(key, value);
    this.tokens += value.ids.length;
    for (const [k, v] of this.entries) {
      if (this.tokens <= this.maxTokens) break;
      this.entries.delete(k);
      this.tokens -= v.ids.length;
    }
  }
}

/** Encode short strings (paths, names) once: the repository map and file headers reuse them constantly. */
export class PieceEncoder {
  private readonly cache = new Map<string, Int32Array>();
  constructor(private readonly tokenizer: LayoutTokenizer) {}

  encode(text: string): Int32Array {
    let ids = this.cache.get(text);
    if (!ids) {
      ids = this.tokenizer.encodeWithOffsets(text).ids;
      if (this.cache.size > 200_000) this.cache.clear();
      this.cache.set(text, ids);
    }
    return ids;
  }
}
