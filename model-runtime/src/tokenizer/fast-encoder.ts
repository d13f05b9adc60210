// A faster encoder for the same tokenizer.json that @huggingface/tokenizers loads. It splits text with the
// library's own compiled pre-tokenizer RegExp, applies the same merges in the same order (lowest rank first,
// leftmost on ties), caches each distinct piece's ids, and reports where every token starts. Tests check it
// token-for-token against the library (test/unit/tokenizer.test.ts); the library stays the reference.
import { BYTE_TO_UNICODE, byteLevelToBytes } from "./byte-level";

export interface BpeTables {
  vocab: Record<string, number>;
  merges: Array<[string, string]> | string[];
}

/** Growable Int32/Uint32 output without per-token allocation. */
class IntSink {
  data: Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  take(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

const PAIR = 1 << 16; // pair key = left * PAIR + right; the vocabulary stays below 65,536 ids
const NAIVE_MAX = 48; // pieces up to this many bytes use the simple quadratic merge loop
const CACHE_LIMIT = 1 << 17;

export class FastBpeEncoder {
  private readonly byteIds = new Int32Array(256);
  private readonly pairRank = new Map<number, number>();
  private readonly mergeResult: Int32Array;
  /** UTF-8 length of each token, to turn token counts into byte offsets. */
  readonly tokenByteLength: Int32Array;
  private readonly cache = new Map<string, Int32Array>();
  private readonly pattern: RegExp;
  private scratchBytes = new Uint8Array(256);
  private readonly encoder = new TextEncoder();

  constructor(tables: BpeTables, pattern: RegExp) {
    this.pattern = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g");
    const vocab = tables.vocab;
    let maxId = 0;
    for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
    if (maxId >= PAIR) throw new Error(`vocabulary too large for the fast encoder (${maxId + 1} ids)`);
    this.tokenByteLength = new Int32Array(maxId + 1);
    for (const [token, id] of Object.entries(vocab)) {
      try {
        this.tokenByteLength[id] = byteLevelToBytes(token).length;
      } catch {
        this.tokenByteLength[id] = new TextEncoder().encode(token).length; // special tokens are plain text
      }
    }
    for (let b = 0; b < 256; b++) {
      const id = vocab[BYTE_TO_UNICODE[b]];
      if (id === undefined) throw new Error(`byte ${b} has no token`);
      this.byteIds[b] = id;
    }
    this.mergeResult = new Int32Array(tables.merges.length);
    tables.merges.forEach((m, rank) => {
      const [l, r] = typeof m === "string" ? (m.split(" ", 2) as [string, string]) : m;
      const left = vocab[l];
      const right = vocab[r];
      const result = vocab[l + r];
      if (left === undefined || right === undefined || result === undefined) throw new Error(`merge ${rank} names an unknown token`);
      this.mergeResult[rank] = result;
      // The library keeps the last rank of a repeated pair (Map construction); so do we.
      this.pairRank.set(left * PAIR + right, rank);
    });
  }

  /** Token ids of a whole text; special-token strings in it are ordinary text. */
  encode(text: string): Int32Array {
    const ids = new IntSink(text.length / 3);
    this.run(text, ids, null, null);
    return ids.take();
  }

  /**
   * Ids plus, for each token, the UTF-8 byte offset where it starts and the UTF-16 index (JS string index) of the
   * character that holds its first byte. Two tokens can share a UTF-16 index when BPE split one character's bytes.
   */
  encodeWithOffsets(text: string): { ids: Int32Array; offsets: Uint32Array; byteOffsets: Uint32Array } {
    const ids = new IntSink(text.length / 3);
    const chars = new IntSink(text.length / 3);
    const bytes = new IntSink(text.length / 3);
    this.run(text, ids, chars, bytes);
    return { ids: ids.take(), offsets: new Uint32Array(chars.take().buffer), byteOffsets: new Uint32Array(bytes.take().buffer) };
  }

  private run(text: string, ids: IntSink, charOffsets: IntSink | null, byteOffsets: IntSink | null): void {
    const re = this.pattern;
    re.lastIndex = 0;
    let prev = 0;
    let bytePos = 0;
    const emit = (start: number, end: number): void => {
      const piece = text.slice(start, end);
      const pieceIds = this.encodePiece(piece);
      for (let i = 0; i < pieceIds.length; i++) ids.push(pieceIds[i]);
      if (charOffsets && byteOffsets) bytePos = this.pushOffsets(piece, start, bytePos, pieceIds, charOffsets, byteOffsets);
    };
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const start = m.index;
      const end = start + m[0].length;
      if (prev < start) emit(prev, start);
      if (end > start) emit(start, end);
      else re.lastIndex++;
      prev = end;
    }
    if (prev < text.length) emit(prev, text.length);
  }

  private pushOffsets(piece: string, charStart: number, bytePos: number, pieceIds: Int32Array, chars: IntSink, bytes: IntSink): number {
    let ascii = true;
    for (let i = 0; i < piece.length; i++) {
      if (piece.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      let rel = 0;
      for (let t = 0; t < pieceIds.length; t++) {
        chars.push(charStart + rel);
        bytes.push(bytePos + rel);
        rel += this.tokenByteLength[pieceIds[t]];
      }
      return bytePos + rel;
    }
    // Map each UTF-8 byte of the piece to the UTF-16 index of the character it belongs to.
    const byteToChar: number[] = [];
    for (let i = 0; i < piece.length; ) {
      const cp = piece.codePointAt(i)!;
      const units = cp > 0xffff ? 2 : 1;
      const isLoneSurrogate = cp >= 0xd800 && cp <= 0xdfff;
      const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 || isLoneSurrogate ? 3 : 4;
      for (let k = 0; k < len; k++) byteToChar.push(i);
      i += units;
    }
    let rel = 0;
    for (let t = 0; t < pieceIds.length; t++) {
      chars.push(charStart + byteToChar[rel]);
      bytes.push(bytePos + rel);
      rel += this.tokenByteLength[pieceIds[t]];
    }
    return bytePos + rel;
  }

  /** Ids of one pre-tokenizer piece. */
  encodePiece(piece: string): Int32Array {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    let n = piece.length;
    let ascii = true;
    for (let i = 0; i < n; i++) if (piece.charCodeAt(i) >= 0x80) ascii = false;
    if (!ascii) n = piece.length * 3;
    if (this.scratchBytes.length < n) this.scratchBytes = new Uint8Array(n * 2);
    const buf = this.scratchBytes;
    if (ascii) for (let i = 0; i < n; i++) buf[i] = piece.charCodeAt(i);
    else n = this.encoder.encodeInto(piece, buf).written;
    const symbols = new Int32Array(n);
    for (let i = 0; i < n; i++) symbols[i] = this.byteIds[buf[i]];
    const result = n <= NAIVE_MAX ? this.mergeNaive(symbols) : this.mergeWithHeap(symbols);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, result);
    return result;
  }

  private mergeNaive(sym: Int32Array): Int32Array {
    let len = sym.length;
    for (;;) {
      let bestRank = Infinity;
      let best = -1;
      for (let i = 0; i < len - 1; i++) {
        const rank = this.pairRank.get(sym[i] * PAIR + sym[i + 1]);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      sym[best] = this.mergeResult[bestRank];
      sym.copyWithin(best + 1, best + 2, len);
      len--;
    }
    return sym.slice(0, len);
  }

  /** Same order of merges as mergeNaive, in O(n log n): a heap of (rank, position) over a linked list. */
  private mergeWithHeap(sym: Int32Array): Int32Array {
    const n = sym.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const version = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap entries: [rank, left position, left version, right position, right version]
    const heap: number[][] = [];
    const less = (a: number[], b: number[]): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
    const push = (e: number[]): void => {
      heap.push(e);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    };
    const pop = (): number[] => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && less(heap[l], heap[m])) m = l;
          if (r < heap.length && less(heap[r], heap[m])) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m], heap[i]];
          i = m;
        }
      }
      return top;
    };
    const offer = (left: number): void => {
      const right = next[left];
      if (right < 0) return;
      const rank = this.pairRank.get(sym[left] * PAIR + sym[right]);
      if (rank !== undefined) push([rank, left, version[left], right, version[right]]);
    };
    for (let i = 0; i < n - 1; i++) offer(i);
    while (heap.length > 0) {
      const [rank, left, lv, right, rv] = pop();
      if (!alive[left] || !alive[right] || next[left] !== right || version[left] !== lv || version[right] !== rv) continue;
      sym[left] = this.mergeResult[rank];
      version[left]++;
      alive[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) offer(prev[left]);
      offer(left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
    return Int32Array.from(out);
  }
}
