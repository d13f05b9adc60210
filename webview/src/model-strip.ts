/**
 * The model's state above the conversation: "Reading the repository: 42% · 2,410 tokens/s · about 0:12 left"
 * with a progress bar and a Stop button while it reads, "Resume" when paused, a quiet line when ready or off.
 * The host sends the words (ModelView); this only draws them.
 */
import type { ModelView } from "./protocol";

export class ModelStrip {
  private readonly text = document.createElement("span");
  private readonly bar = document.createElement("div");
  private readonly fill = document.createElement("div");
  private readonly button = document.createElement("button");
  private readonly notice = document.createElement("div");
  private action: ModelView["action"];

  constructor(
    private readonly root: HTMLElement,
    onAction: (action: "cancel" | "resume") => void,
  ) {
    this.text.className = "model-text";
    this.bar.className = "model-progress";
    this.bar.setAttribute("role", "progressbar");
    this.bar.setAttribute("aria-valuemin", "0");
    this.bar.setAttribute("aria-valuemax", "100");
    this.bar.setAttribute("aria-label", "Model reading the repository");
    this.fill.className = "model-progress-fill";
    this.bar.appendChild(this.fill);
    this.button.type = "button";
    this.button.className = "model-action secondary";
    this.button.addEventListener("click", () => {
      if (this.action) onAction(this.action);
    });
    const line = document.createElement("div");
    line.className = "model-line";
    line.append(this.text, this.button);
    this.notice.className = "model-notice";
    this.notice.hidden = true;
    root.append(line, this.notice, this.bar);
    root.hidden = true;
  }

  render(m: ModelView): void {
    this.root.hidden = false;
    this.root.dataset.kind = m.kind;
    this.text.textContent = m.text;
    this.notice.textContent = m.notice ?? "";
    this.notice.hidden = !m.notice;
    const reading = m.percent !== undefined && (m.kind === "reading" || m.kind === "updating");
    this.bar.hidden = !reading;
    if (reading) {
      const p = Math.max(0, Math.min(100, m.percent ?? 0));
      this.fill.style.width = `${p}%`;
      this.bar.setAttribute("aria-valuenow", String(Math.round(p)));
    }
    this.action = m.action;
    this.button.hidden = !m.action;
    this.button.textContent = m.action === "resume" ? "Resume" : "Stop reading";
    this.button.title = m.action === "resume" ? "Let the model finish reading the repository" : "Stop the model reading the repository (answers come from the index meanwhile)";
  }
}
