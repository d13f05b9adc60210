/**
 * The supervised tasks of the training data and the loss classes of its tokens. The numbers are part of the
 * shard format (docs/training-data.md): a token's loss class says which objective it belongs to, so the trainer
 * can weight or report each one separately. Never renumber; append.
 */

export const LOSS_CLASS = {
  /** No loss: the repository map, file headers, padding, questions, and blanked doc-comment lines. */
  none: 0,
  /** Next-token prediction on the files' own text. */
  code: 1,
  /** (a) "where is X defined" → citations of X's definitions. */
  whereDefined: 2,
  /** (a) "what does X call" → the definitions X uses, cited. */
  whatCalls: 3,
  /** (a) "who uses X" → the lines that use X, cited. */
  whoUses: 4,
  /** (b) a doc comment removed from the context, as a question → the definition it describes, cited. */
  needle: 5,
  /** (c) "explain X" → X's doc comment (removed from the context). */
  explain: 6,
} as const;

export type LossClass = (typeof LOSS_CLASS)[keyof typeof LOSS_CLASS];

/** The question tasks (loss classes of answers). */
export type QaTask = "whereDefined" | "whatCalls" | "whoUses" | "needle" | "explain";

export const QA_TASKS: readonly QaTask[] = ["whereDefined", "whatCalls", "whoUses", "needle", "explain"];

/** Tasks answered with citations (scored by top-k); the rest are answered in prose (scored by ROUGE-L). */
export const CITATION_TASKS: ReadonlySet<QaTask> = new Set(["whereDefined", "whatCalls", "whoUses", "needle"]);

/** Short labels for tables: the brief's (a)/(b)/(c) grouping. */
export const TASK_LABEL: Record<QaTask, string> = {
  whereDefined: "(a) where defined",
  whatCalls: "(a) what it calls",
  whoUses: "(a) who uses it",
  needle: "(b) doc → definition",
  explain: "(c) explain",
};

export function lossClassOf(task: QaTask): LossClass {
  return LOSS_CLASS[task];
}

/** Names of loss classes by number, as the shard header records them. */
export const LOSS_CLASS_NAMES: string[] = Object.entries(LOSS_CLASS)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name);
