/**
 * The names a function's parameters bind (its receiver's too): inside the function they shadow every definition of
 * the same name elsewhere, so `onError(err)` in `bodyLimit({ onError })` or `handler(c)` in a callback-taking
 * function is not a call of the repository's `onError` or `handler` (WorkspaceIndex.callees). Read from the syntax
 * tree, grammar-neutral: the first parameter list above the body, and in it the identifiers in binding position —
 * not types, default values or decorators.
 */
import type { Node } from "web-tree-sitter";

/** Node types that hold a function's parameters, across the indexed grammars. */
const PARAMETER_LISTS = /^(?:parameters|parameter_list|formal_parameters|function_value_parameters|method_parameters|lambda_parameters)$/;
/** Fields and node types whose identifiers are not bound by the parameter (`x: Type`, `x = f()`, `@Inject x`). */
const NOT_BINDING_FIELDS = new Set(["type", "value", "default_value", "default", "decorator", "annotation", "return_type"]);
const NOT_BINDING_TYPES = /(?:^|_)(?:type|types|type_annotation|type_identifier|type_arguments|decorator|annotation|marker_annotation|attribute|attribute_list|modifier|modifiers)$/;
const BINDING_IDENTIFIERS = new Set(["identifier", "shorthand_property_identifier_pattern", "simple_identifier", "variable_name", "name"]);
/** Where a function's own parameter list stops being searched: its body (lambdas inside take their own). */
const BODY = /(?:^|_)(?:body|block|statement_block|compound_statement)$/;
const MAX_DEPTH = 4;
const MAX_NAMES = 32;

/** The names `fn`'s parameters (and a Go receiver, Python's `self`) bind; [] when it has none found. */
export function parameterNames(fn: Node): string[] {
  const names = new Set<string>();
  for (const list of parameterLists(fn)) collectBindings(list, names);
  return [...names].slice(0, MAX_NAMES);
}

/** The parameter lists of `fn` itself — a Go method's receiver and parameters; a const's arrow function's — not of
 * functions nested in its body. A JavaScript arrow function of one bare parameter (`x => …`) has that identifier. */
function parameterLists(fn: Node): Node[] {
  const out: Node[] = [];
  const visit = (node: Node, depth: number): boolean => {
    for (let i = 0; i < node.childCount; i++) {
      const child = node.child(i);
      if (!child) continue;
      const field = node.fieldNameForChild(i);
      if (field === "body" || BODY.test(child.type)) return out.length > 0;
      if (field === "receiver") out.push(child); // Go's receiver; its parameter list follows beside it
      else if (PARAMETER_LISTS.test(child.type) || (field === "parameter" && child.type === "identifier")) {
        out.push(child);
        return true;
      } else if (depth < MAX_DEPTH && child.namedChildCount > 0 && visit(child, depth + 1)) return true;
    }
    return false;
  };
  visit(fn, 0);
  return out;
}

function collectBindings(node: Node, names: Set<string>): void {
  if (BINDING_IDENTIFIERS.has(node.type) && node.childCount === 0) {
    if (names.size < MAX_NAMES) names.add(node.text.replace(/^\$/, ""));
    return;
  }
  for (let i = 0; i < node.childCount; i++) {
    const child = node.child(i);
    if (!child || !child.isNamed) continue;
    const field = node.fieldNameForChild(i);
    // `{ key: local }` binds its value; elsewhere a value is a default (`x = make()`), not a binding.
    if (field && NOT_BINDING_FIELDS.has(field) && !(field === "value" && node.type === "pair_pattern")) continue;
    if (NOT_BINDING_TYPES.test(child.type) && !BINDING_IDENTIFIERS.has(child.type)) continue;
    collectBindings(child, names);
  }
}
