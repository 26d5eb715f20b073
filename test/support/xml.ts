import { expect } from 'chai';

/** An element of an XML document: its name, attributes and direct text. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
}

/**
 * A small XML reader for the charts: checks that every tag is closed in order and returns the
 * elements with their attributes and direct text.
 */
export function parseXml(xml: string): XmlElement[] {
  const out: XmlElement[] = [];
  const stack: XmlElement[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(xml)) !== null) {
    expect(m.index, 'no stray markup').to.equal(consumed);
    consumed = re.lastIndex;
    if (m[5] !== undefined) {
      if (stack.length > 0) stack[stack.length - 1]!.text += m[5];
      else expect(m[5].trim()).to.equal('');
      continue;
    }
    const [, closing, name, attrText, selfClosing] = m;
    if (closing === '/') {
      expect(stack.pop()?.name, `closing </${name}>`).to.equal(name);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    const el: XmlElement = { name: name!, attrs, text: '' };
    out.push(el);
    if (selfClosing !== '/') stack.push(el);
  }
  expect(consumed).to.equal(xml.length);
  expect(stack, 'every element closed').to.have.length(0);
  return out;
}
