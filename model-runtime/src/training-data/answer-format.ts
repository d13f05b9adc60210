/**
 * The answer format: what the model writes after `<|answer|>`, in training targets and at inference alike.
 *
 *   computeTotal <|cite|>src/billing.ts:12<|endcite|>
 *   Ledger <|cite|>services/ledger/ledger.go:27<|endcite|>
 *   <|endanswer|>
 *
 * A citation is `<|cite|>` + the file's path + `:` + the 1-based line + `<|endcite|>`. The path is encoded on its
 * own, exactly as the file header and the repository map encode it, so the model copies the header's tokens; the
 * `:line` part is encoded separately. Lists put one item per line: a label (a symbol name, or nothing) then the
 * citation. Prose answers (explanations) are plain text. Every answer ends with `<|endanswer|>`.
 */
import type { SpecialToken } from "../tokenizer/special-tokens";

export interface CitationRef {
  path: string;
  /** 1-based, as people read it. */
  line: number;
}

export type AnswerPart = { text: string } | { cite: CitationRef };

export interface AnswerTokenizer {
  encodeWithOffsets(text: string): { ids: Int32Array };
  specialTokenId(token: SpecialToken): number;
}

export const CITE_OPEN = "<|cite|>";
export const CITE_CLOSE = "<|endcite|>";
export const END_ANSWER = "<|endanswer|>";

/** One item per line: `label <|cite|>path:line<|endcite|>`; `more` > 0 adds a last line "(+N more)". */
export function citedList(items: Array<{ label: string; cite: CitationRef }>, more = 0): AnswerPart[] {
  const parts: AnswerPart[] = [];
  items.forEach((item, i) => {
    const lead = (i > 0 ? "\n" : "") + (item.label ? `${item.label} ` : "");
    if (lead) parts.push({ text: lead });
    parts.push({ cite: item.cite });
  });
  if (more > 0) parts.push({ text: `${items.length ? "\n" : ""}(+${more} more)` });
  return parts;
}

/** The answer as text, special tokens spelled out (what decoding the answer's ids gives, minus <|endanswer|>). */
export function answerToText(parts: readonly AnswerPart[]): string {
  return parts.map((p) => ("cite" in p ? `${CITE_OPEN}${p.cite.path}:${p.cite.line}${CITE_CLOSE}` : p.text)).join("");
}

/** The answer's token ids, ending with <|endanswer|> (the prompt before it ends with <|answer|>). */
export function encodeAnswer(tokenizer: AnswerTokenizer, parts: readonly AnswerPart[]): Int32Array {
  const out: number[] = [];
  const cite = tokenizer.specialTokenId("<|cite|>");
  const endCite = tokenizer.specialTokenId("<|endcite|>");
  for (const p of parts) {
    if ("cite" in p) {
      out.push(cite, ...tokenizer.encodeWithOffsets(p.cite.path).ids, ...tokenizer.encodeWithOffsets(`:${p.cite.line}`).ids, endCite);
    } else if (p.text) {
      out.push(...tokenizer.encodeWithOffsets(p.text).ids);
    }
  }
  out.push(tokenizer.specialTokenId("<|endanswer|>"));
  return Int32Array.from(out);
}

const CITATION = /<\|cite\|>([^\n]*?):(\d+)<\|endcite\|>/g;

/** Citations of an answer's text, in order of appearance (the model's ranking). Text outside markers is not a citation. */
export function parseCitations(text: string): CitationRef[] {
  const end = text.indexOf(END_ANSWER);
  const body = end >= 0 ? text.slice(0, end) : text;
  return [...body.matchAll(CITATION)].map((m) => ({ path: m[1], line: Number(m[2]) }));
}

/** A line that is only a citation with its label ("`Ledger.post` <|cite|>…<|endcite|>"): a list item, not prose. */
const CITATION_LINE = /^[^\S\n]*(?:[-*][^\S\n]+)?`?[\w$.:<>]*`?[^\S\n]*<\|cite\|>[^\n]*?:\d+<\|endcite\|>[^\S\n]*$/gm;

/** The prose of an answer: citation lines (label and citation), other citations and markers removed, up to <|endanswer|>. */
export function answerProse(text: string): string {
  const end = text.indexOf(END_ANSWER);
  const body = end >= 0 ? text.slice(0, end) : text;
  return body.replace(CITATION_LINE, "").replace(CITATION, "").replace(/<\|[a-z_]+\|>/g, "").trim();
}
