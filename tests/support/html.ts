/**
 * Reading rendered emails the way a client would: with a spec-compliant
 * HTML5 parser (parse5), plus the strict checks a parser leaves out.
 */
import assert from "node:assert/strict";
import { type DefaultTreeAdapterMap, parse } from "parse5";

type Node = DefaultTreeAdapterMap["node"];
type Element = DefaultTreeAdapterMap["element"];

const VOID = new Set(["meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base"]);
/** Elements the parser may add on its own without the markup being wrong. */
const IMPLIED = new Set(["tbody"]);

/** Every element under `node`, in document order. */
export function elements(node: Node): Element[] {
  const found: Element[] = [];
  const walk = (n: Node) => {
    if ("tagName" in n) found.push(n);
    const children = "content" in n && n.nodeName === "template"
      ? []
      : "childNodes" in n
      ? n.childNodes
      : [];
    for (const child of children) walk(child);
  };
  walk(node);
  return found;
}

/** The comments under `node`, e.g. Outlook's conditional comments. */
export function comments(node: Node): string[] {
  const found: string[] = [];
  const walk = (n: Node) => {
    if (n.nodeName === "#comment") found.push((n as DefaultTreeAdapterMap["commentNode"]).data);
    if ("childNodes" in n) { for (const child of n.childNodes) walk(child); }
  };
  walk(node);
  return found;
}

/** The text content of `node`, as a reader sees it (entities decoded). */
export function textContent(node: Node): string {
  if (node.nodeName === "#text") return (node as DefaultTreeAdapterMap["textNode"]).value;
  return "childNodes" in node ? node.childNodes.map(textContent).join("") : "";
}

/** The value of attribute `name` on `element`, decoded. */
export function attr(element: Element, name: string): string | undefined {
  return element.attrs.find((a) => a.name === name)?.value;
}

/**
 * Parses `html` as a document and throws unless it is well-formed: no
 * parse error, every non-void element closed by its own end tag, no end tag
 * without its element, and no element added by the parser except `tbody`.
 * What Outlook renders ({@link outlookView}) is held to the same rules.
 */
export function parseWellFormed(html: string): DefaultTreeAdapterMap["document"] {
  const document = checked(html);
  checked(outlookView(html));
  return document;
}

/**
 * The markup Outlook on Windows renders: the insides of `<!--[if mso]>`
 * comments instead of the comments, without the `<!--[if !mso]><!-->`
 * blocks. The Office XML settings in the head are left out: they are XML.
 */
export function outlookView(html: string): string {
  return html
    .replace(/<!--\[if mso\]><noscript>[\s\S]*?<!\[endif\]-->/g, "")
    .replace(/<!--\[if !mso\]><!-->[\s\S]*?<!--<!\[endif\]-->/g, "")
    .replace(/<!--\[if mso\]>([\s\S]*?)<!\[endif\]-->/g, "$1");
}

function checked(html: string) {
  const errors: string[] = [];
  const tree = parse(html, {
    sourceCodeLocationInfo: true,
    onParseError: (error) => {
      const near = JSON.stringify(html.slice(error.startOffset, error.startOffset + 40));
      errors.push(`${error.code} at ${near}`);
    },
  });
  assert.deepEqual(errors, [], "the HTML has no parse errors");
  let closed = 0;
  for (const element of elements(tree)) {
    const location = element.sourceCodeLocation;
    if (!location?.startTag) {
      assert.ok(IMPLIED.has(element.tagName), `<${element.tagName}> was added by the parser`);
      continue;
    }
    if (VOID.has(element.tagName)) continue;
    assert.ok(
      location.endTag,
      `<${element.tagName}> at ${location.startOffset} is closed by its own end tag`,
    );
    closed += 1;
  }
  const endTags = html.replace(/<!--[\s\S]*?-->/g, "").match(/<\/[a-zA-Z][\w:-]*\s*>/g) ?? [];
  assert.equal(endTags.length, closed, "every end tag closes an element that was written");
  return tree;
}
