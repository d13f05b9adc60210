/**
 * The channel score of a description question's candidates: how likely the model finds the DESCRIPTION as its
 * explanation of each candidate, log P(description | "Explain `label`."), the repository in context.
 *
 * The label search asks the other way round — which label does the model write after the description — and a small
 * model's answer to that leans on names it favours whatever is asked (calibrated away only in part, label-search.ts).
 * The model was also trained to explain a definition with its (removed) doc comment, task (c), so it can read each
 * candidate's code through its name and say how well the description fits it: a noisy-channel re-ranker (Yu et al.
 * 2016; Min et al. 2022, "Noisy channel language model prompting"), whose score has no label prior to correct, since
 * every candidate is scored on the same words.
 */
import type { AnswerProbe, RepoSession } from "../engine/repo-session";
import { EXPLAIN_TEMPLATES } from "../training-data/questions";

/** The wording of the needle questions (training-data/questions.ts) around a description; what is left is the description. */
const DESCRIPTION_FRAMES = [
  /^\s*Which definition does this describe\?\s*/i,
  /^\s*Find the code that matches this description:\s*/i,
  /^\s*Where is this implemented\?\s*/i,
  /\s*Where is that\?\s*$/i,
];

/** A description question's description: its needle wording removed (a question in other words is kept whole). */
export function describedText(question: string): string {
  let text = question;
  for (const frame of DESCRIPTION_FRAMES) text = text.replace(frame, "");
  return text.trim() || question.trim();
}

/** The explanation question the model was trained on for `label` (its first template). */
export function explainQuestion(label: string): string {
  return EXPLAIN_TEMPLATES[0].replace("{X}", label);
}

/**
 * log P(`ids` | the answer starts here): `first` is the logits of the answer's first token, `probe` feeds `ids` but
 * the last and returns each row's logits.
 */
export async function textLogprob(ids: readonly number[], first: Float32Array, probe: AnswerProbe): Promise<number> {
  if (ids.length === 0) return 0;
  const vocab = first.length;
  let lp = logSoftmaxAt(first, 0, vocab, ids[0]);
  if (ids.length > 1) {
    const rows = await probe(ids.slice(0, -1), { everyRow: true });
    for (let i = 1; i < ids.length; i++) lp += logSoftmaxAt(rows, (i - 1) * vocab, vocab, ids[i]);
  }
  return lp;
}

function logSoftmaxAt(logits: Float32Array, offset: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let i = offset; i < offset + vocab; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = offset; i < offset + vocab; i++) sum += Math.exp(logits[i] - max);
  return logits[offset + id] - max - Math.log(sum);
}

/**
 * Each label's channel score for `description` (same order): one explanation question per label, the description's
 * tokens scored as its answer. Nothing is decoded; the session is left as after any question.
 */
export async function channelScores(
  session: RepoSession,
  encode: (text: string) => ArrayLike<number>,
  labels: readonly string[],
  description: string,
  signal?: AbortSignal,
): Promise<number[]> {
  const ids = Array.from(encode(description));
  const out: number[] = [];
  for (const label of labels) {
    let score = -Infinity;
    const answer = session.ask(explainQuestion(label), {
      maxNewTokens: ids.length + 1,
      signal,
      beforeAnswer: async (first, probe) => void (score = await textLogprob(ids, first, probe)),
    });
    await answer.next();
    await answer.return();
    out.push(score);
  }
  return out;
}

/**
 * `ranked` with its first `n` re-ordered: `mode` "channel" by channel score alone; "fuse" by reciprocal rank fusion of
 * the given order and the channel order (ranks from 1, constant `k`). Ties keep the given order.
 */
export function channelOrder<T>(ranked: readonly T[], scores: readonly number[], mode: "channel" | "fuse", k = 2): T[] {
  const n = scores.length;
  const channelRank = new Map<number, number>();
  scores
    .map((s, i) => ({ s, i }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .forEach(({ i }, r) => channelRank.set(i, r + 1));
  const head = ranked
    .slice(0, n)
    .map((r, i) => ({ r, i, score: mode === "channel" ? -channelRank.get(i)! : 1 / (k + i + 1) + 1 / (k + channelRank.get(i)!) }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map(({ r }) => r);
  return [...head, ...ranked.slice(n)];
}
