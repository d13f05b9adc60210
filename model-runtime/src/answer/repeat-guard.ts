/**
 * Ends an answer that starts repeating itself. A small model decoding greedily can fall into a loop when a question
 * is unlike those it was trained on — the same citation line (`app src/flask/cli.py:963`) written again and again
 * until the token limit. A line that repeats an earlier line of the answer ends the answer, and is left out of it.
 *
 * So that the repeat is left out of what was streamed as well, the line being written is held back while it could
 * still turn out to be a repeat (while it is the beginning of an earlier line) and released as soon as it cannot:
 * a line unlike the earlier ones streams with at most a token's delay.
 */

/** Lines that count as a repeat: some text, not a brace, a fence or a short word that may recur in prose or code. */
const MIN_REPEAT_CHARS = 8;

export interface RepeatGuardStep {
  /** Text that can no longer become part of a repeat: stream it. */
  emit: string;
  /** The line just completed repeats an earlier one: end the answer (the line is not in any `emit`). */
  repeated: boolean;
}

export class RepeatGuard {
  /** Earlier lines that count, trimmed. */
  private readonly earlier = new Set<string>();
  /** The line being written, and how much of it was released. */
  private line = "";
  private released = 0;

  /** Whether text of the line being written is held back (anything decoded meanwhile belongs to it). */
  get holding(): boolean {
    return this.released < this.line.length;
  }

  /** Takes the next decoded piece of the answer. After a step that reports `repeated`, the guard is not used again. */
  push(piece: string): RepeatGuardStep {
    let emit = "";
    let rest = piece;
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
      this.line += rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      const done = this.line.trim();
      if (counts(done) && this.earlier.has(done)) return { emit, repeated: true };
      if (counts(done)) this.earlier.add(done);
      emit += `${this.line.slice(this.released)}\n`;
      this.line = "";
      this.released = 0;
    }
    this.line += rest;
    if (!this.couldRepeat()) emit += this.take();
    return { emit, repeated: false };
  }

  /** At the end of the answer: the held rest, unless the unfinished last line repeats an earlier one (then ""). */
  end(): RepeatGuardStep {
    const done = this.line.trim();
    if (counts(done) && this.earlier.has(done)) return { emit: "", repeated: true };
    return { emit: this.take(), repeated: false };
  }

  /** Releases what is held of the line so far. */
  private take(): string {
    const out = this.line.slice(this.released);
    this.released = this.line.length;
    return out;
  }

  private couldRepeat(): boolean {
    if (!this.holding) return false;
    const start = this.line.trimStart();
    for (const e of this.earlier) if (e.startsWith(start)) return true;
    return false;
  }
}

function counts(line: string): boolean {
  return line.length >= MIN_REPEAT_CHARS && /[\p{L}\p{N}]/u.test(line);
}

/**
 * Within a line the same loop happens in prose ("the value of the value of the value of …"): for an explanation,
 * a token that would write a token n-gram the answer already holds is masked (the usual no-repeat n-gram rule of
 * summarisers), so the model says something else. `history`: the answer's ids so far.
 */
export function banRepeatedNgrams(logits: Float32Array, history: readonly number[], n: number): void {
  if (n < 1 || history.length < n - 1) return;
  const start = history.length - (n - 1);
  for (let i = 0; i + n - 1 < history.length; i++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = history[i + j] === history[start + j];
    if (same) logits[history[i + n - 1]] = -Infinity;
  }
}
