// Byte-level BPE training. Pieces of the corpus (from the pre-tokenizer) are counted once; training then works on
// the distinct pieces ("words") and their counts. Each merge updates only the words that contain the merged pair
// (found through a pair → words index) and the pair counts those words change, and the next pair comes from a
// max-heap with lazy deletion, so a merge costs time proportional to the text it touches, not to the corpus.
import { forEachPiece } from "./pretokenizer";

/** Counts the pre-tokenizer's pieces of `text` into `counts` (piece → occurrences). */
export function countPieces(text: string, pattern: RegExp, counts: Map<string, number>): void {
  forEachPiece(text, pattern, (start, end) => {
    const piece = text.slice(start, end);
    counts.set(piece, (counts.get(piece) ?? 0) + 1);
  });
}

export interface BpeTrainOptions {
  /** Learned vocabulary size, the 256 byte tokens included. */
  vocabSize: number;
  /** Stop early when the most frequent pair occurs fewer times than this. */
  minPairCount?: number;
  /** Pieces longer than this many UTF-8 bytes are left out of training (they are rare and mostly noise). */
  maxPieceBytes?: number;
  onProgress?: (merges: number, vocab: number, bestCount: number) => void;
}

export interface BpeModel {
  /** tokens[id] is the byte string of learned token `id`: ids 0..255 are the single bytes. */
  tokens: Uint8Array[];
  /** merges[rank] = [left, right, result] as learned token ids; earlier merges apply first. */
  merges: Array<[number, number, number]>;
}

const KEY = 1 << 20; // pair key = left * KEY + right; token ids stay below 2^20

/** Max-heap of (count, pair key); ties go to the smaller key so training is deterministic. */
class PairHeap {
  private counts = new Float64Array(1 << 16);
  private keys = new Float64Array(1 << 16);
  size = 0;

  private above(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    if (this.size === this.counts.length) {
      const c = new Float64Array(this.size * 2);
      c.set(this.counts);
      this.counts = c;
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      this.keys = k;
    }
    let i = this.size++;
    this.counts[i] = count;
    this.keys[i] = key;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    this.size--;
    if (this.size > 0) {
      this.counts[0] = this.counts[this.size];
      this.keys[0] = this.keys[this.size];
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.size && this.above(l, best)) best = l;
        if (r < this.size && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

function bytesKey(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

export function trainBpe(pieceCounts: Map<string, number>, options: BpeTrainOptions): BpeModel {
  const { vocabSize, minPairCount = 2, maxPieceBytes = 128, onProgress } = options;
  if (vocabSize < 256 || vocabSize >= KEY) throw new Error(`vocabSize must be in [256, ${KEY})`);
  const encoder = new TextEncoder();

  // Words as slices of one symbol array; a merge shrinks a word in place.
  const encoded: Uint8Array[] = [];
  const counts: number[] = [];
  let total = 0;
  for (const [piece, count] of pieceCounts) {
    const bytes = encoder.encode(piece);
    if (bytes.length < 2 || bytes.length > maxPieceBytes) continue;
    encoded.push(bytes);
    counts.push(count);
    total += bytes.length;
  }
  const nWords = encoded.length;
  const symbols = new Int32Array(total);
  const wordStart = new Int32Array(nWords);
  const wordLen = new Int32Array(nWords);
  const wordCount = new Float64Array(counts);
  let at = 0;
  for (let w = 0; w < nWords; w++) {
    wordStart[w] = at;
    wordLen[w] = encoded[w].length;
    symbols.set(encoded[w], at);
    at += encoded[w].length;
  }
  encoded.length = 0;

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const notePairWord = (key: number, w: number): void => {
    let list = pairWords.get(key);
    if (!list) pairWords.set(key, (list = []));
    if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < nWords; w++) {
    const s = wordStart[w];
    const c = wordCount[w];
    for (let i = s; i < s + wordLen[w] - 1; i++) {
      const key = symbols[i] * KEY + symbols[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + c);
      notePairWord(key, w);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(count, key);

  const tokens: Uint8Array[] = [];
  for (let b = 0; b < 256; b++) tokens.push(Uint8Array.of(b));
  const tokenIdByBytes = new Map<string, number>(tokens.map((t, id) => [bytesKey(t), id]));
  const merges: Array<[number, number, number]> = [];
  const mergedPairs = new Set<number>();
  const visited = new Int32Array(nWords).fill(-1);
  let steps = 0;
  const delta = new Map<number, number>();

  while (tokens.length < vocabSize && heap.size > 0) {
    const [count, key] = heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (count !== current) {
      if (current > 0) heap.push(current, key); // a stale entry: requeue with the true count
      continue;
    }
    if (count < minPairCount) break;
    const left = Math.floor(key / KEY);
    const right = key - left * KEY;
    const bytes = new Uint8Array(tokens[left].length + tokens[right].length);
    bytes.set(tokens[left]);
    bytes.set(tokens[right], tokens[left].length);
    const k = bytesKey(bytes);
    let merged = tokenIdByBytes.get(k);
    if (merged === undefined) {
      merged = tokens.length;
      tokens.push(bytes);
      tokenIdByBytes.set(k, merged);
    }
    const step = ++steps;
    // A pair can come back after its merge when a duplicate token string re-creates one side; the earlier rank
    // already covers it at encode time, so only the words are updated.
    if (!mergedPairs.has(key)) merges.push([left, right, merged]);
    mergedPairs.add(key);

    delta.clear();
    for (const w of pairWords.get(key) ?? []) {
      if (visited[w] === step) continue;
      visited[w] = step;
      const s = wordStart[w];
      const n = wordLen[w];
      let occurs = false;
      for (let i = s; i < s + n - 1; i++) {
        if (symbols[i] === left && symbols[i + 1] === right) {
          occurs = true;
          break;
        }
      }
      if (!occurs) continue;
      const c = wordCount[w];
      for (let i = s; i < s + n - 1; i++) {
        const p = symbols[i] * KEY + symbols[i + 1];
        delta.set(p, (delta.get(p) ?? 0) - c);
      }
      let out = s;
      for (let i = s; i < s + n; i++) {
        if (i < s + n - 1 && symbols[i] === left && symbols[i + 1] === right) {
          symbols[out++] = merged;
          i++;
        } else symbols[out++] = symbols[i];
      }
      wordLen[w] = out - s;
      for (let i = s; i < out - 1; i++) {
        const p = symbols[i] * KEY + symbols[i + 1];
        delta.set(p, (delta.get(p) ?? 0) + c);
        if (symbols[i] === merged || symbols[i + 1] === merged) notePairWord(p, w);
      }
    }
    pairCount.delete(key);
    pairWords.delete(key);
    for (const [p, d] of delta) {
      if (d === 0 || p === key) continue;
      const next = (pairCount.get(p) ?? 0) + d;
      if (next <= 0) pairCount.delete(p);
      else pairCount.set(p, next);
      if (d > 0) heap.push(next, p);
    }
    if (onProgress && step % 1000 === 0) onProgress(merges.length, tokens.length, count);
  }
  return { tokens, merges };
}

/**
 * The model that training with a smaller vocabSize would have produced: BPE is greedy, so that is a prefix of the
 * merges, cut where the first token with id ≥ vocabSize would be made.
 */
export function truncateBpe(model: BpeModel, vocabSize: number): BpeModel {
  const cut = model.merges.findIndex(([, , result]) => result >= vocabSize);
  return { tokens: model.tokens.slice(0, vocabSize), merges: cut < 0 ? model.merges.slice() : model.merges.slice(0, cut) };
}
