/** The evaluation table in Markdown: one row per (task, answerer), one column per context length. */
import { TASK_LABEL, QA_TASKS, type QaTask } from "../training-data/tasks";
import type { Answerer } from "./answerer";
import { type EvalResult, aggregate } from "./harness";

function bucketLabel(tokens: number): string {
  return tokens >= 1 << 20 ? `${tokens / (1 << 20)}M` : `${tokens / 1024}k`;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function resultTable(result: EvalResult, answerers: readonly Answerer[], buckets: number[]): string {
  const cells = aggregate(result.results);
  const lines = [
    `| task | answerer | ${buckets.map((b) => `${bucketLabel(b)} tokens`).join(" | ")} |`,
    `|---|---|${buckets.map(() => "---").join("|")}|`,
  ];
  for (const task of QA_TASKS as QaTask[]) {
    for (const a of answerers) {
      if (a.tasks && !a.tasks.includes(task)) continue;
      const row = buckets.map((b) => {
        const c = cells.get(`${task}\u0000${a.name}\u0000${b}`);
        if (!c) return "—";
        return c.rougeL !== undefined ? `R-L ${c.rougeL.toFixed(3)} (n=${c.n})` : `${pct(c.top1!)} / ${pct(c.top5!)} (n=${c.n})`;
      });
      // A task no question of the run asked (eval --tasks) leaves no row.
      if (row.some((cell) => cell !== "—")) lines.push(`| ${TASK_LABEL[task]} | ${a.name} | ${row.join(" | ")} |`);
    }
  }
  const repos = buckets.map((b) => new Set(result.contexts.filter((c) => c.bucket === b).map((c) => c.unit)).size);
  lines.push(`| repositories | | ${repos.join(" | ")} |`);
  return lines.join("\n");
}
