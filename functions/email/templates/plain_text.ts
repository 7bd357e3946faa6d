/**
 * The plain-text part of every email: the same copy as the HTML, written to
 * be read on its own, with every link spelled out.
 */
import type { EmailContent, Inline, Paragraph } from "./email.ts";

/** Renders `content` as plain text. */
export function renderText(content: EmailContent): string {
  return [
    ...content.paragraphs.map(inlineText),
    `${content.action.label}:\n${content.action.href}`,
    ...content.closing.map(inlineText),
    content.signOff.join("\n"),
    "--",
    ...content.footer.map(inlineText),
  ].join("\n\n") + "\n";
}

/**
 * A link becomes its text followed by where it goes, unless the text says
 * it already (a `mailto:` link whose text names the address). A web link
 * that ends its paragraph reads "text: URL", with no full stop after the URL.
 */
function inlineText(paragraph: Paragraph): string {
  const [link, end] = paragraph.slice(-2);
  if (
    typeof link === "object" && !link.href.startsWith("mailto:") &&
    typeof end === "string" && /^\W*$/.test(end)
  ) {
    return inlineText(paragraph.slice(0, -2)) + `${link.text}: ${link.href}`;
  }
  return paragraph.map((part: Inline) => {
    if (typeof part === "string") return part;
    const target = part.href.startsWith("mailto:") ? mailtoAddress(part.href) : part.href;
    return part.text.includes(target) ? part.text : `${part.text} (${target})`;
  }).join("");
}

/** The address of a `mailto:` link, without its query. */
export function mailtoAddress(href: string): string {
  return decodeURIComponent(new URL(href).pathname);
}
