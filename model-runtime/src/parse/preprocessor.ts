/**
 * C, C++ and C# conditional compilation, as tree-sitter cannot parse it: a grammar without a preprocessor sees both
 * branches of every `#if`, and braces opened in one conditional block and closed in another (nginx:
 * `#if (NGX_HTTP_UPSTREAM_SID) … if (peer == NULL) { #endif … #if (NGX_HTTP_UPSTREAM_SID) } #endif`) or opened in both
 * branches of one (`#if A  if (x) { #else  if (y) { #endif`) leave a function in an ERROR node: its definition is lost.
 * Keeping only the first branch of each conditional, as `unifdef` would with every condition true, balances them.
 */

const DIRECTIVE = /^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef|else|endif)\b/;

/**
 * `source` with its conditional directive lines and every `#elif`/`#else` branch blanked (same length, same line
 * breaks, so every position stays put), or undefined when it has no conditional directive.
 */
export function firstBranchOnly(source: string): string | undefined {
  const lines = source.split("\n");
  // One entry per open conditional: whether this line range is inside a branch after the first (of it or an outer one).
  const stack: Array<{ outerLater: boolean; later: boolean }> = [];
  let changed = false;
  let continued = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const blank = () => {
      lines[i] = line.replace(/[^\r]/g, " ");
      changed = true;
    };
    if (continued) {
      // The continuation of a directive line ending in a backslash.
      continued = /\\\r?$/.test(line);
      blank();
      continue;
    }
    const m = DIRECTIVE.exec(line);
    const inLater = stack.length > 0 && (stack[stack.length - 1].later || stack[stack.length - 1].outerLater);
    if (!m) {
      if (inLater) blank();
      continue;
    }
    const kind = m[1];
    if (kind.startsWith("if")) stack.push({ outerLater: inLater, later: false });
    else if (kind === "endif") stack.pop();
    else if (stack.length) stack[stack.length - 1].later = true; // #elif… / #else
    continued = /\\\r?$/.test(line);
    blank();
  }
  return changed ? lines.join("\n") : undefined;
}
