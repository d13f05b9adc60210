/**
 * The composer's keyboard logic, without the DOM (unit-tested in node): walking back through earlier questions
 * with Up/Down, and finding the "@" mention being typed at the caret.
 */

/** Up recalls earlier questions (newest first), Down walks forward again and finally back to the draft. */
export class QuestionRecall {
  private past: string[] = [];
  /** Position in `past` while recalling; past.length when not recalling. */
  private position = 0;
  private draft = "";

  /** Replace the known questions (oldest first), e.g. after the history is restored. */
  setHistory(questions: string[]): void {
    this.past = questions.filter((q) => q.trim().length > 0);
    this.position = this.past.length;
  }

  remember(question: string): void {
    if (question.trim() && this.past[this.past.length - 1] !== question) this.past.push(question);
    this.position = this.past.length;
    this.draft = "";
  }

  get recalling(): boolean {
    return this.position < this.past.length;
  }

  /** The text to show after Up, or undefined when there is nothing older. */
  older(current: string): string | undefined {
    if (this.position === 0) return undefined;
    if (!this.recalling) this.draft = current;
    this.position--;
    return this.past[this.position];
  }

  /** The text to show after Down, or undefined when not recalling. */
  newer(): string | undefined {
    if (!this.recalling) return undefined;
    this.position++;
    return this.recalling ? this.past[this.position] : this.draft;
  }

  /** The user edited the text: recall ends, Up starts from the newest again. */
  reset(): void {
    this.position = this.past.length;
  }
}

export interface MentionAtCaret {
  /** Index of the "@". */
  start: number;
  /** What was typed after "@", up to the caret. */
  fragment: string;
}

/** The mention being typed at `caret`: "@" at the start or after whitespace, then no whitespace up to the caret. */
export function mentionAt(text: string, caret: number): MentionAtCaret | undefined {
  const before = text.slice(0, caret);
  const m = /(^|\s)@([^\s@`]*)$/.exec(before);
  if (!m) return undefined;
  return { start: before.length - m[2].length - 1, fragment: m[2] };
}

/** `text` with the mention at `at` replaced by "@insert ", and where the caret goes. */
export function applyMention(text: string, caret: number, at: MentionAtCaret, insert: string): { text: string; caret: number } {
  const after = text.slice(caret).replace(/^[^\s]*/, "");
  const head = `${text.slice(0, at.start)}@${insert} `;
  return { text: head + after.replace(/^ /, ""), caret: head.length };
}

/** Split a question into plain text and "@mention" tokens, for display. */
export function splitMentions(text: string): Array<{ mention: boolean; text: string }> {
  const out: Array<{ mention: boolean; text: string }> = [];
  const re = /(^|\s)(@[^\s@`]+)/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index + m[1].length;
    if (start > last) out.push({ mention: false, text: text.slice(last, start) });
    out.push({ mention: true, text: m[2] });
    last = start + m[2].length;
  }
  if (last < text.length) out.push({ mention: false, text: text.slice(last) });
  return out;
}
