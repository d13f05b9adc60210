/**
 * Repository text shown in VS Code markdown (hovers). MarkdownString.appendText escapes markdown and HTML, but
 * VS Code's renderer still turns bare URLs, "www." names and e-mail addresses into links. A word joiner
 * (U+2060, invisible) after a scheme's colon, after "www" and after "@" keeps them plain text, so the only links
 * in a hover are the ones Longview adds.
 */
export function inert(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*):(?=\/\/)/gi, "$1:\u2060").replace(/\bwww\./gi, "www\u2060.").replace(/@/g, "@\u2060");
}
