// Pre-tokenizer patterns. They are written in the Oniguruma dialect that tokenizer.json uses (HuggingFace's Rust
// `tokenizers` compiles them with Oniguruma); compilePreTokenizer turns one into a JavaScript RegExp through
// @huggingface/tokenizers' own translation, so the trainer, the fast encoder and the library split text identically.
import { SplitPreTokenizer } from "@huggingface/tokenizers";

/**
 * Code-aware split. Alternatives, first match wins:
 *  1. an identifier (letters, marks, digits, `_`, `$`; not starting with a digit) with at most one leading
 *     non-word, non-newline character, so ` foo`, `.foo`, `(foo` and `$foo` can become single tokens;
 *  2. digits in groups of at most three, so numbers don't eat vocabulary;
 *  3. a run of punctuation with an optional leading space, plus, when the line ends there, the line break(s) and
 *     the next line's indentation (`{\n    `, `);\n\n\t`): most code lines end in punctuation;
 *  4. other line breaks together with the next line's indentation, so "\n        " is one piece;
 *  5. a run of spaces/tabs that leaves its last space for the word after it, or 6. any remaining spaces/tabs.
 * A line break's piece always ends with the whole indentation after it, so the first non-blank character after
 * every "\n" starts a token: definitions and other anchors begin on a token boundary. docs/tokenizer.md has the
 * variants measured against this one.
 */
export const CODE_PRETOKENIZER_REGEX =
  String.raw`[^\r\n\p{L}\p{N}_$]?[\p{L}\p{M}_$][\p{L}\p{M}\p{N}_$]*|\p{N}{1,3}| ?[^\s\p{L}\p{M}\p{N}_$]+(?:\s*\n[^\S\n]*)?|\s*\n[^\S\n]*|[^\S\n]+(?!\S)|[^\S\n]+`;

/** GPT-2's pattern, the baseline the code pattern is measured against (docs/tokenizer.md). */
export const GPT2_PRETOKENIZER_REGEX = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** The tokenizer.json pre-tokenizer for a pattern: split into isolated pieces, then map bytes to characters. */
export function preTokenizerJson(regex: string): object {
  return {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  };
}

/** The global RegExp that @huggingface/tokenizers uses for this tokenizer.json pattern. */
export function compilePreTokenizer(regex: string): RegExp {
  const split = new SplitPreTokenizer({ type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false });
  if (!split.pattern) throw new Error(`pre-tokenizer pattern did not compile: ${regex}`);
  return split.pattern;
}

/**
 * Pieces of `text` as the library's Split (behavior "Isolated") makes them: the matches, plus any text between
 * matches as its own piece. Calls `onPiece(start, end)` with UTF-16 indices.
 */
export function forEachPiece(text: string, pattern: RegExp, onPiece: (start: number, end: number) => void): void {
  const re = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g");
  let prev = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (prev < start) onPiece(prev, start);
    if (end > start) onPiece(start, end);
    else re.lastIndex++;
    prev = end;
  }
  if (prev < text.length) onPiece(prev, text.length);
}
