// GPT-2's byte-to-unicode table: every byte gets a printable character, so a byte-level vocabulary can be stored
// as ordinary JSON strings in tokenizer.json (the format HuggingFace's ByteLevel pre-tokenizer and decoder expect).

function buildByteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 256;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(next++);
  return table;
}

/** BYTE_TO_UNICODE[b] is the one-character string that stands for byte b. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();

const unicodeToByte = new Map<string, number>(BYTE_TO_UNICODE.map((c, b) => [c, b]));

/** The byte-level string of some UTF-8 bytes. */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += BYTE_TO_UNICODE[b];
  return s;
}

/** Inverse of bytesToByteLevel; throws on a character that stands for no byte. */
export function byteLevelToBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = unicodeToByte.get(token[i]);
    if (b === undefined) throw new Error(`not a byte-level token: ${JSON.stringify(token)}`);
    out[i] = b;
  }
  return out;
}
