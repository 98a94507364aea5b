/** One node of a `PrefixTree`: the edge label from its parent, the value of the key ending here, and its children. */
interface PrefixNode<T> {
  label: string;
  value: T | undefined;
  /** By the first character code of the child's label (labels of siblings never share a first character). */
  children: Map<number, PrefixNode<T>> | undefined;
}

const node = <T>(label: string): PrefixNode<T> => ({ label, value: undefined, children: undefined });

/**
 * A radix tree (a trie whose chains of single children are merged into one edge) over string keys. Finding every key
 * that is a prefix of a text costs one step per edge along the text, whatever the number of keys: the route index
 * walks a request path through it instead of testing every route.
 */
export class PrefixTree<T> {
  private readonly root: PrefixNode<T> = node('');

  /** The value at `key`, made by `make` when the key is new. */
  upsert(key: string, make: () => T): T {
    let at = this.root;
    let i = 0;
    for (;;) {
      if (i === key.length) return (at.value ??= make());
      const first = key.charCodeAt(i);
      let child = at.children?.get(first);
      if (!child) {
        child = node(key.slice(i));
        (at.children ??= new Map()).set(first, child);
        return (child.value = make());
      }
      const label = child.label;
      let common = 1; // the first character is shared: that is how the child was found
      while (common < label.length && i + common < key.length && label[common] === key[i + common]) common++;
      if (common < label.length) {
        // the key parts from the edge inside its label: split the edge there
        const middle = node<T>(label.slice(0, common));
        middle.children = new Map([[label.charCodeAt(common), child]]);
        child.label = label.slice(common);
        at.children!.set(first, middle);
        child = middle;
      }
      at = child;
      i += common;
    }
  }

  /** Pushes onto `out` the value of every key that is a prefix of `text` (itself included), shortest first. */
  prefixesOf(text: string, out: T[]): void {
    let at = this.root;
    if (at.value !== undefined) out.push(at.value);
    let i = 0;
    while (i < text.length) {
      const child = at.children?.get(text.charCodeAt(i));
      if (!child) return;
      const label = child.label;
      if (label.length > 1 && !text.startsWith(label, i)) return;
      i += label.length;
      at = child;
      if (at.value !== undefined) out.push(at.value);
    }
  }
}
