/** A trie over UTF-16 code units mapping strings to ids; `forEachPrefix` lists the entries that prefix a text. */
export class CharTrie {
  private readonly root: TrieNode = { children: new Map(), id: -1 };

  insert(key: string, id: number): void {
    let node = this.root;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      let child = node.children.get(c);
      if (!child) {
        child = { children: new Map(), id: -1 };
        node.children.set(c, child);
      }
      node = child;
    }
    if (node.id === -1) node.id = id;
  }

  /** Calls `visit(id, end)` for every key equal to `text.slice(start, end)`, shortest first. */
  forEachPrefix(text: string, start: number, visit: (id: number, end: number) => void): void {
    let node: TrieNode | undefined = this.root;
    for (let i = start; i < text.length; i++) {
      node = node.children.get(text.charCodeAt(i));
      if (!node) return;
      if (node.id !== -1) visit(node.id, i + 1);
    }
  }
}

interface TrieNode {
  children: Map<number, TrieNode>;
  id: number;
}
