// The model's layout markers. They take the lowest ids (0..SPECIAL_TOKENS.length-1) in the vocabulary, in this
// order, so ids stay stable when the learned part of the vocabulary is retrained. Changing this list means
// retraining the tokenizer and the model: only ever rename a reserved token.

export const LAYOUT_SPECIAL_TOKENS = [
  "<|pad|>", // padding; never attended to
  "<|bos|>", // start of the whole sequence
  "<|eos|>", // end of the whole sequence / end of generation
  "<|repo_map|>", // the repository map section starts
  "<|file|>", // a file starts
  "<|path|>", // the file's path follows
  "<|endpath|>", // the path ends; the file's content follows
  "<|endfile|>", // a file ends
  "<|anchor|>", // a global anchor (definition, import) starts
  "<|endanchor|>", // the anchor ends
  "<|question|>", // the user's question follows
  "<|answer|>", // the model's answer follows
  "<|endanswer|>", // the answer ends
  "<|cite|>", // a citation (path:line) follows inside an answer
  "<|endcite|>", // the citation ends
  "<|sep|>", // generic separator
] as const;

export const RESERVED_TOKEN_COUNT = 16;

export const RESERVED_SPECIAL_TOKENS = Array.from({ length: RESERVED_TOKEN_COUNT }, (_, i) => `<|reserved_${i}|>` as const);

export type LayoutSpecialToken = (typeof LAYOUT_SPECIAL_TOKENS)[number];
export type ReservedSpecialToken = `<|reserved_${number}|>`;
export type SpecialToken = LayoutSpecialToken | ReservedSpecialToken;

/** All special tokens in id order: SPECIAL_TOKENS[id] is the token with that id. */
export const SPECIAL_TOKENS: readonly SpecialToken[] = [...LAYOUT_SPECIAL_TOKENS, ...RESERVED_SPECIAL_TOKENS];
