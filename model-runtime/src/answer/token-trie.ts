/** What the answer's tries (paths in grounded-citations.ts, labels in label-search.ts) share: nodes keyed by token id. */
export interface TokenTrieNode<N> {
  children: Map<number, N>;
}

/** The node `ids` lead to from `root`, creating the missing ones with `make`. */
export function descend<N extends TokenTrieNode<N>>(root: N, ids: ArrayLike<number>, make: () => N): N {
  let node = root;
  for (let i = 0; i < ids.length; i++) {
    let next = node.children.get(ids[i]);
    if (!next) node.children.set(ids[i], (next = make()));
    node = next;
  }
  return node;
}
