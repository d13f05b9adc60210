/**
 * What the evaluation asks an answerer: a laid-out repository (the engine's input: `layout.withQuestion(question)`
 * is the prompt) and a question; the answer is text in the answer format (training-data/answer-format.ts) —
 * citations as `<|cite|>path:line<|endcite|>`, prose as plain text, optionally ended by `<|endanswer|>`.
 *
 * The model plugs in as one more Answerer: lay out the prompt with withQuestion, generate until <|endanswer|>, and
 * return the decoded text (special tokens kept). Baselines (baselines.ts) read the same context through the index
 * of the laid-out files, which holds exactly what the model can see.
 */
import type { WorkspaceIndex } from "../index/workspace-index";
import type { RepoLayout } from "../layout/repo-layout";
import type { QaTask } from "../training-data/tasks";

/** The context a question is asked in, beyond the layout: the same files, as an index and as text. */
export interface AnswerContext {
  root: string;
  /** Exactly the laid-out files, with the removed doc comments gone. */
  index: WorkspaceIndex;
  /** path → text as laid out. */
  texts: Map<string, string>;
  /** path → position of the file in the layout. */
  fileOrder: Map<string, number>;
}

export interface Answerer {
  readonly name: string;
  /** The tasks it is a baseline for; undefined: it answers every task. */
  readonly tasks?: readonly QaTask[];
  answer(layout: RepoLayout, question: string, context: AnswerContext): Promise<string> | string;
  dispose?(): Promise<void> | void;
}
