// Tiny DOM helpers. Text is only ever set through textContent / text nodes, never as HTML.

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', content?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content !== undefined) e.textContent = content;
  return e;
}

export function text(s: string): Text {
  return document.createTextNode(s);
}
