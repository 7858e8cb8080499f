/**
 * A small XML reader for tests of the files setup writes (task XML, LaunchAgent plist, WiX
 * source): elements, attributes and text, entities decoded; no namespaces, no DTD. It throws on
 * mismatched tags, so a malformed file fails the test.
 */
export type XmlElement = { name: string; attributes: Record<string, string>; children: XmlElement[]; text: string };

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)));
    const known = ENTITIES[entity];
    if (known === undefined) throw new Error(`unknown entity ${whole}`);
    return known;
  });
}

export function parseXml(source: string): XmlElement {
  const body = source
    .replace(/^\uFEFF/, "")
    .replace(/<\?[\s\S]*?\?>/g, "")
    .replace(/<!DOCTYPE[^>]*>/g, "")
    .replace(/<!--[\s\S]*?-->/g, "");
  const root: XmlElement = { name: "#document", attributes: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  const token = /<(\/?)([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/g;
  let consumed = 0;
  for (const match of body.matchAll(token)) {
    if (match.index !== consumed) throw new Error(`unexpected markup at ${consumed}: ${body.slice(consumed, consumed + 40)}`);
    consumed = match.index + match[0].length;
    const [, closing, name, attrs, selfClosing, text] = match;
    const top = stack[stack.length - 1]!;
    if (text !== undefined) {
      top.text += decode(text);
    } else if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
    } else {
      const attributes: Record<string, string> = {};
      for (const a of (attrs ?? "").matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) attributes[a[1]!] = decode(a[2]!);
      const element: XmlElement = { name: name!, attributes, children: [], text: "" };
      top.children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  if (consumed !== body.length || stack.length !== 1) throw new Error("unterminated XML");
  const [first] = root.children;
  if (!first || root.children.length !== 1) throw new Error("XML needs exactly one root element");
  return first;
}

/** The first element along a path of names under `from`, e.g. find(task, "Settings", "ExecutionTimeLimit"). */
export function find(from: XmlElement, ...names: string[]): XmlElement | undefined {
  let current: XmlElement | undefined = from;
  for (const name of names) current = current?.children.find((c) => c.name === name);
  return current;
}

export function textOf(from: XmlElement, ...names: string[]): string | undefined {
  return find(from, ...names)?.text.trim();
}

/** A plist's root <dict> as a plain object (string, integer, true/false, array). */
export function plistDict(element: XmlElement): Record<string, unknown> {
  const dict = element.name === "plist" ? element.children[0]! : element;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < dict.children.length; i += 2) {
    const key = dict.children[i]!;
    const value = dict.children[i + 1];
    if (key.name !== "key" || !value) throw new Error(`plist dict entry ${i / 2} is not <key> then a value`);
    out[key.text] = plistValue(value);
  }
  return out;
}

function plistValue(value: XmlElement): unknown {
  switch (value.name) {
    case "string":
      return value.text;
    case "integer":
      return Number(value.text);
    case "true":
      return true;
    case "false":
      return false;
    case "array":
      return value.children.map(plistValue);
    case "dict":
      return plistDict(value);
    default:
      throw new Error(`unsupported plist value <${value.name}>`);
  }
}
