/** The "@" suggestion list under the composer: a listbox the keyboard drives from the textarea. */
import type { MentionItem } from "./protocol";

export class MentionPopup {
  private items: MentionItem[] = [];
  private active = 0;

  constructor(
    private readonly list: HTMLUListElement,
    private readonly input: HTMLTextAreaElement,
    private readonly onChoose: (item: MentionItem) => void,
  ) {
    // mousedown, not click: the textarea keeps the focus (and the caret) while the user picks.
    list.addEventListener("mousedown", (e) => {
      const li = (e.target as HTMLElement).closest("li");
      if (!li) return;
      e.preventDefault();
      const item = this.items[Number(li.dataset.index)];
      if (item) this.onChoose(item);
    });
  }

  get open(): boolean {
    return !this.list.hidden;
  }

  show(items: MentionItem[]): void {
    this.items = items;
    this.active = 0;
    this.list.replaceChildren();
    if (items.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "No file or symbol in the index matches";
      this.list.appendChild(li);
    }
    items.forEach((item, i) => {
      const li = document.createElement("li");
      li.id = `mention-${i}`;
      li.setAttribute("role", "option");
      li.dataset.index = String(i);
      li.dataset.kind = item.kind;
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = item.kind === "file" ? "file" : "symbol";
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = item.label;
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = item.detail;
      li.append(kind, label, detail);
      this.list.appendChild(li);
    });
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.highlight();
  }

  hide(): void {
    this.list.hidden = true;
    this.items = [];
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  move(delta: number): void {
    if (this.items.length === 0) return;
    this.active = (this.active + delta + this.items.length) % this.items.length;
    this.highlight();
  }

  /** Choose the highlighted item; false when there is none. */
  choose(): boolean {
    const item = this.items[this.active];
    if (!item) return false;
    this.onChoose(item);
    return true;
  }

  private highlight(): void {
    for (const li of Array.from(this.list.children) as HTMLElement[]) {
      const on = Number(li.dataset.index) === this.active;
      li.classList.toggle("active", on);
      li.setAttribute("aria-selected", String(on));
      if (on) {
        this.input.setAttribute("aria-activedescendant", li.id);
        li.scrollIntoView({ block: "nearest" });
      }
    }
  }
}
