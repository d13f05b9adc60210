/**
 * Markdown → safe DOM. Answers quote repository content, which is untrusted: raw HTML is disabled in the
 * markdown parser, links are limited to http(s), the HTML is sanitized by DOMPurify, and citations become
 * links only when they match a citation the host sent (never from arbitrary text or URIs). Nothing rendered
 * here navigates: external links lose their href, citations are handled by the chat's click handler.
 */
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import typescript from "highlight.js/lib/languages/typescript";
import MarkdownIt from "markdown-it";
import type { CitationLink } from "./protocol";

for (const [name, lang] of Object.entries({ c, cpp, go, java, javascript, python, rust, typescript })) hljs.registerLanguage(name, lang);

const md: MarkdownIt = new MarkdownIt({
  html: false,
  linkify: false,
  // A model answer lists one `label path:line` per line (the answer format) with no markdown list markers: keep its lines.
  breaks: true,
  highlight(code: string, lang: string): string {
    if (lang && hljs.getLanguage(lang)) return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    return ""; // markdown-it escapes it
  },
});
md.validateLink = (url: string) => /^https?:\/\//i.test(url.trim());

const ALLOWED_TAGS = ["p", "br", "strong", "em", "code", "pre", "span", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "a", "hr", "table", "thead", "tbody", "tr", "th", "td", "del"];
const ALLOWED_ATTR = ["class", "href", "title"];

/** `path:line` as it appears in answers (paths may contain / . - _ and letters/digits). */
const CITATION_PATTERN = /([\w.\-/@+]+):(\d+)/g;

export function renderMarkdown(markdown: string, citations: CitationLink[]): DocumentFragment {
  const html = md.render(markdown);
  const fragment = DOMPurify.sanitize(html, { ALLOWED_TAGS, ALLOWED_ATTR, RETURN_DOM_FRAGMENT: true }) as DocumentFragment;
  for (const a of Array.from(fragment.querySelectorAll("a"))) {
    // External links stay visible as text with their target in the title: nothing navigates from here.
    a.setAttribute("title", a.getAttribute("href") ?? "");
    a.removeAttribute("href");
    a.classList.add("external");
  }
  linkCitations(fragment, citations);
  decorateCodeBlocks(fragment);
  return fragment;
}

/** Each code block gets a copy button (the chat's click handler copies the block's text). */
function decorateCodeBlocks(root: DocumentFragment): void {
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    const wrapper = document.createElement("div");
    wrapper.className = "code-block";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy copy-code";
    button.textContent = "Copy";
    button.title = "Copy code";
    button.setAttribute("aria-label", "Copy code");
    pre.replaceWith(wrapper);
    wrapper.append(button, pre);
  }
}

/**
 * The same `path:line` text can name different citations (two workspace folders with the same relative path):
 * the host lists citations in order of appearance, one per occurrence, so the n-th occurrence of a text takes
 * the n-th citation with that text (and the last one after that).
 */
function linkCitations(root: DocumentFragment, citations: CitationLink[]): void {
  const known = new Map<string, CitationLink[]>();
  for (const c of citations) {
    const key = `${c.path}:${c.line}`;
    const list = known.get(key) ?? [];
    list.push(c);
    known.set(key, list);
  }
  if (known.size === 0) return;
  const take = (key: string): CitationLink | undefined => {
    const list = known.get(key);
    if (!list) return undefined;
    return list.length > 1 ? list.shift() : list[0];
  };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!(n.parentElement?.closest("pre, a"))) texts.push(n as Text);
  }
  for (const text of texts) {
    const value = text.data;
    CITATION_PATTERN.lastIndex = 0;
    let last = 0;
    const parts: Node[] = [];
    for (let m = CITATION_PATTERN.exec(value); m; m = CITATION_PATTERN.exec(value)) {
      const cite = take(`${m[1]}:${m[2]}`);
      if (!cite) continue;
      if (m.index > last) parts.push(document.createTextNode(value.slice(last, m.index)));
      parts.push(citationAnchor(cite, m[0]));
      last = m.index + m[0].length;
    }
    if (parts.length === 0) continue;
    if (last < value.length) parts.push(document.createTextNode(value.slice(last)));
    text.replaceWith(...parts);
  }
}

export function citationAnchor(cite: CitationLink, label: string): HTMLAnchorElement {
  const a = document.createElement("a");
  a.className = "citation";
  a.href = "#";
  a.textContent = label;
  a.dataset.root = cite.root;
  a.dataset.path = cite.path;
  a.dataset.line = String(cite.line);
  a.title = `Open ${cite.root}/${cite.path} at line ${cite.line}`;
  return a;
}
