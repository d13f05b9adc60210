/**
 * "What the model read": for a model answer, the files (and, when the model reports them, definitions) that got the
 * answer's attention, as a ranked bar list. Each row is a link (class `citation`, so the chat's click handler opens
 * it) and the list is keyboard-driven: Tab reaches it, Up/Down/Home/End move between rows, Enter opens.
 *
 * Bars are scaled to the largest share (so the ranking reads at a glance); the number is the absolute share of the
 * answer's attention. Repository paths only reach the DOM through textContent and data attributes.
 */
import type { AttentionDefinition, AttentionFile, AttentionMap } from "./protocol";

/** Rows shown before "N more". */
export const VISIBLE_FILES = 8;
const MAX_DEFINITIONS = 3;

export function formatShare(share: number): string {
  const percent = share * 100;
  if (percent > 0 && percent < 1) return "<1%";
  return `${Math.round(percent)}%`;
}

function row(label: string, share: number, scale: number, target: { root: string; path: string; line: number }, title: string, kind: "file" | "definition"): HTMLLIElement {
  const li = document.createElement("li");
  li.className = `attention-row ${kind}`;
  const a = document.createElement("a");
  a.className = "citation attention-link";
  a.href = "#";
  a.dataset.root = target.root;
  a.dataset.path = target.path;
  a.dataset.line = String(target.line);
  a.dataset.share = String(share);
  a.title = title;
  a.setAttribute("aria-label", `${label}: ${formatShare(share)} of the answer's attention. Open ${kind === "file" ? "the file" : "the definition"}.`);
  const track = document.createElement("span");
  track.className = "attention-track";
  track.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.className = "attention-fill";
  fill.style.width = `${Math.max(1, Math.round((share / scale) * 100))}%`;
  track.appendChild(fill);
  const name = document.createElement("span");
  name.className = "attention-label";
  name.textContent = label;
  const value = document.createElement("span");
  value.className = "attention-share";
  value.textContent = formatShare(share);
  a.append(name, value, track);
  li.appendChild(a);
  return li;
}

function definitionRows(file: AttentionFile, defs: AttentionDefinition[], scale: number): HTMLOListElement {
  const list = document.createElement("ol");
  list.className = "attention-definitions";
  for (const d of [...defs].sort((a, b) => b.share - a.share).slice(0, MAX_DEFINITIONS)) {
    list.appendChild(row(d.name, d.share, scale, { root: file.root, path: file.path, line: d.line }, `${file.path}:${d.line}`, "definition"));
  }
  return list;
}

/** The attention map's element, or undefined when it has no files. */
export function renderAttentionMap(map: AttentionMap): HTMLElement | undefined {
  const files = map.files.filter((f) => f.share > 0).sort((a, b) => b.share - a.share);
  if (files.length === 0) return undefined;
  const section = document.createElement("section");
  section.className = "attention-map";
  section.setAttribute("aria-label", "What the model read");
  const title = document.createElement("div");
  title.className = "attention-title";
  title.textContent = "What it read";
  const hint = document.createElement("span");
  hint.className = "attention-hint";
  hint.textContent = " · share of the answer's attention";
  title.appendChild(hint);
  section.appendChild(title);

  const scale = files[0].share;
  const multiRoot = new Set(files.map((f) => f.root)).size > 1;
  const list = document.createElement("ol");
  list.className = "attention-files";
  files.forEach((f, i) => {
    const label = multiRoot ? `${f.root}/${f.path}` : f.path;
    const li = row(label, f.share, scale, { root: f.root, path: f.path, line: f.line ?? 1 }, `Open ${f.root}/${f.path}`, "file");
    if (f.definitions?.length) li.appendChild(definitionRows(f, f.definitions, scale));
    if (i >= VISIBLE_FILES) li.hidden = true;
    list.appendChild(li);
  });
  section.appendChild(list);

  const rest = files.length - VISIBLE_FILES;
  if (rest > 0) {
    const more = document.createElement("button");
    more.type = "button";
    more.className = "attention-more secondary";
    more.textContent = `${rest} more file${rest === 1 ? "" : "s"}`;
    more.setAttribute("aria-expanded", "false");
    more.addEventListener("click", () => {
      const expand = more.getAttribute("aria-expanded") !== "true";
      list.querySelectorAll<HTMLLIElement>(":scope > li").forEach((li, i) => (li.hidden = !expand && i >= VISIBLE_FILES));
      more.setAttribute("aria-expanded", String(expand));
      more.textContent = expand ? "Fewer files" : `${rest} more file${rest === 1 ? "" : "s"}`;
    });
    section.appendChild(more);
  }

  const listed = files.reduce((s, f) => s + f.share, 0);
  if (listed < 0.995) {
    const other = document.createElement("div");
    other.className = "attention-other";
    other.textContent = `${formatShare(1 - listed)} elsewhere (the repository map, the question, files under 0.5%)`;
    section.appendChild(other);
  }
  section.addEventListener("keydown", (e) => moveFocus(section, e));
  return section;
}

/** Up/Down/Home/End between the visible rows of one attention map. */
function moveFocus(section: HTMLElement, e: KeyboardEvent): void {
  if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) return;
  const links = Array.from(section.querySelectorAll<HTMLAnchorElement>("a.attention-link")).filter((a) => !a.closest("li[hidden]"));
  const at = links.indexOf(document.activeElement as HTMLAnchorElement);
  if (at < 0 || links.length === 0) return;
  e.preventDefault();
  const next = e.key === "Home" ? 0 : e.key === "End" ? links.length - 1 : Math.min(links.length - 1, Math.max(0, at + (e.key === "ArrowDown" ? 1 : -1)));
  links[next].focus();
}
