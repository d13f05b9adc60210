// The Longview chat webview as a person uses it: its input, its answers, its citations.
import type { FrameLocator, Locator } from "playwright-core";
import { until, type Workbench } from "./workbench";

export class ChatPanel {
  constructor(
    private readonly wb: Workbench,
    readonly frame: FrameLocator,
    private readonly answerTimeoutMs: number,
  ) {}

  get input(): Locator {
    return this.frame.locator("textarea#question");
  }

  answers(): Locator {
    return this.frame.locator("#messages .message.answer");
  }

  questions(): Locator {
    return this.frame.locator("#messages .message.question");
  }

  /** The chat's input is visible: the view is revealed and its webview rendered. */
  async shown(timeout: number, why: string): Promise<void> {
    await this.input.waitFor({ timeout }).catch(() => {
      throw new Error(`the Chat webview (textarea#question) is not showing ${why}`);
    });
    // After a window reload VS Code may swap the webview's inner frame once more just after it first renders: the
    // message list of the new frame can trail the input found in the old one (CI, 2 cores: > 1 s once).
    await this.frame.locator("#messages").waitFor({ state: "attached", timeout: 10_000 });
  }

  async show(): Promise<void> {
    if (await this.input.isVisible().catch(() => false)) return;
    await this.wb.runCommand("Longview: Focus on Chat View"); // VS Code's own command for every view
    await this.shown(30_000, "after Focus on Chat View");
  }

  /** Types a question and sends it; returns how many answers there were before. */
  async ask(question: string, via: "enter" | "button"): Promise<number> {
    await this.show();
    const before = await this.answers().count();
    await this.input.click();
    await this.input.fill(question);
    if (via === "enter") await this.input.press("Enter");
    else await this.frame.locator("button#send").click();
    await this.frame.locator("#messages .message.question", { hasText: question.split("\n")[0] }).last().waitFor({ timeout: 15_000 });
    return before;
  }

  /** Waits for an answer after the `before`-th one that passes `accept`, and returns it. */
  async nextAnswer(before: number, what: string, accept: (answer: Locator) => Promise<boolean>): Promise<Locator> {
    return until(`the chat shows ${what}`, async () => {
      const count = await this.answers().count();
      for (let i = count - 1; i >= before; i--) if (await accept(this.answers().nth(i))) return this.answers().nth(i);
      return undefined;
    }, this.answerTimeoutMs);
  }

  /** The next answer with any text. */
  async anyAnswer(before: number): Promise<Locator> {
    return this.nextAnswer(before, "an answer", async (a) => ((await a.locator(".body").innerText().catch(() => "")).trim().length > 0));
  }
}

export function citation(answer: Locator, file: string, line: number, root?: string): Locator {
  return answer.locator(`a.citation[data-path="${file}"][data-line="${line}"]${root ? `[data-root="${root}"]` : ""}`);
}

export async function citationIn(answer: Locator, file: string, line: number, root?: string): Promise<boolean> {
  return (await citation(answer, file, line, root).count()) > 0;
}

export async function describeCitations(answer: Locator): Promise<string> {
  const cites = await answer.locator("a.citation").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-root")}/${e.getAttribute("data-path")}:${e.getAttribute("data-line")}`));
  return `${JSON.stringify((await answer.innerText()).slice(0, 400))}, citations ${JSON.stringify(cites)}`;
}
