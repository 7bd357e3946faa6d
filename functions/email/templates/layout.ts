/**
 * The HTML part of every email, hand-written for the clients people use.
 *
 * - Layout with tables and inline styles: Outlook on Windows renders with
 *   Word, which ignores `max-width`, `div` widths and padding on links.
 *   A conditional 600px table holds the width there.
 * - The button is "bulletproof": a VML `roundrect` for Outlook, a padded
 *   link in a coloured cell for everyone else.
 * - A hidden preheader sets the line inboxes show after the subject.
 * - Colours: `color-scheme` declares light and dark support, a
 *   `prefers-color-scheme` block repaints the backgrounds and text where
 *   clients honour it (Apple Mail, Outlook.com), and the button's indigo with
 *   white text keeps its contrast where a client inverts colours itself.
 * - Outlook on Windows falls back to Times New Roman when the first font of
 *   a stack is missing, so a conditional style gives it Arial.
 * - Every string from the content is escaped here, and only here.
 */
import { escapeHtml } from "../escape_html.ts";
import type { Brand, EmailContent, Inline, Paragraph } from "./email.ts";

const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif";
const COLOURS = {
  page: "#f4f4f5",
  card: "#ffffff",
  text: "#27272a",
  muted: "#71717a",
  link: "#4338ca",
  button: "#4338ca",
  buttonText: "#ffffff",
};

const DARK_MODE_CSS = `
      :root { color-scheme: light dark; supported-color-schemes: light dark; }
      @media (prefers-color-scheme: dark) {
        .page { background-color: #18181b !important; }
        .card { background-color: #27272a !important; }
        .text { color: #f4f4f5 !important; }
        .muted { color: #a1a1aa !important; }
        .link { color: #a5b4fc !important; }
      }
      [data-ogsc] .text { color: #f4f4f5 !important; }
      [data-ogsc] .muted { color: #a1a1aa !important; }
      [data-ogsc] .link { color: #a5b4fc !important; }
      [data-ogsb] .page { background-color: #18181b !important; }
      [data-ogsb] .card { background-color: #27272a !important; }`;

/**
 * Invisible characters after the preheader, so that inboxes do not fill
 * the preview line with the start of the body.
 */
const PREHEADER_PADDING = "&#8199;&#847; ".repeat(60);

/** Renders `content` as a complete HTML document. */
export function renderHtml(content: EmailContent, brand: Brand): string {
  const text =
    `margin:0 0 16px;font-family:${FONT};font-size:16px;line-height:24px;color:${COLOURS.text};`;
  const copy = (list: readonly Paragraph[]) =>
    list.map((p) => `<p class="text" style="${text}">${inlineHtml(p, COLOURS.link)}</p>`)
      .join("\n                ");
  const signOff = content.signOff.map(escapeHtml).join("<br>");
  const footer = content.footer
    .map((p) =>
      `<p class="muted" style="margin:0 0 12px;font-family:${FONT};font-size:13px;line-height:20px;color:${COLOURS.muted};">${
        inlineHtml(p, COLOURS.muted)
      }</p>`
    )
    .join("\n                ");
  return `<!doctype html>
<html lang="en" dir="ltr" xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="x-apple-disable-message-reformatting">
    <meta name="format-detection" content="telephone=no, date=no, address=no, email=no, url=no">
    <meta name="color-scheme" content="light dark">
    <meta name="supported-color-schemes" content="light dark">
    <title>${escapeHtml(content.subject)}</title>
    <!--[if mso]><noscript><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript><![endif]-->
    <style>${DARK_MODE_CSS}
    </style>
    <!--[if mso]><style>body, table, td, p, a, h1, span, center { font-family: Arial, sans-serif !important; }</style><![endif]-->
  </head>
  <body class="page" style="margin:0;padding:0;width:100%;background-color:${COLOURS.page};-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%;">
    <div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all;">${
    escapeHtml(content.preheader)
  } ${PREHEADER_PADDING}</div>
    <table role="presentation" class="page" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:${COLOURS.page};">
      <tr>
        <td align="center" style="padding:32px 12px;">
          <!--[if mso]><table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->
          <table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:600px;">
            <tr>
              <td style="padding:0 8px 20px;">${brandHtml(brand)}</td>
            </tr>
            <tr>
              <td class="card" style="background-color:${COLOURS.card};border-radius:8px;padding:36px 32px 28px;overflow-wrap:anywhere;word-break:break-word;">
                <h1 class="text" style="margin:0 0 24px;font-family:${FONT};font-size:24px;line-height:32px;font-weight:700;color:${COLOURS.text};">${
    escapeHtml(content.heading)
  }</h1>
                ${copy(content.paragraphs)}
                ${buttonHtml(content.action)}
                ${copy(content.closing)}
                <p class="text" style="${text}margin:0;">${signOff}</p>
              </td>
            </tr>
            <tr>
              <td style="padding:24px 8px 0;overflow-wrap:anywhere;word-break:break-word;">
                ${footer}
              </td>
            </tr>
          </table>
          <!--[if mso]></td></tr></table><![endif]-->
        </td>
      </tr>
    </table>
  </body>
</html>
`;
}

function inlineHtml(paragraph: Paragraph, linkColour: string): string {
  return paragraph.map((part: Inline) =>
    typeof part === "string"
      ? escapeHtml(part)
      : `<a class="link" href="${
        escapeHtml(part.href)
      }" style="color:${linkColour};text-decoration:underline;">${escapeHtml(part.text)}</a>`
  ).join("");
}

/** The logo, whose alt text is the app name, or the app name as text. */
function brandHtml(brand: Brand): string {
  const name = escapeHtml(brand.appName);
  const style =
    `font-family:${FONT};font-size:20px;line-height:28px;font-weight:700;color:${COLOURS.text};`;
  if (!brand.logoUrl) return `<span class="text" style="${style}">${name}</span>`;
  return `<img src="${
    escapeHtml(brand.logoUrl)
  }" alt="${name}" height="40" style="display:block;height:40px;width:auto;max-width:240px;border:0;outline:none;text-decoration:none;${style}">`;
}

/**
 * A button that Outlook draws too: VML inside a conditional comment for
 * Outlook, a padded link in a coloured cell for every other client. The VML
 * width follows the label's length.
 */
function buttonHtml(action: { label: string; href: string }): string {
  const href = escapeHtml(action.href);
  const label = escapeHtml(action.label);
  const width = Math.min(520, Math.max(200, Array.from(action.label).length * 10 + 56));
  const font = `font-family:${FONT};font-size:16px;font-weight:700;`;
  return `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:8px 0 28px;">
                  <tr>
                    <td>
                      <!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="${href}" style="height:48px;v-text-anchor:middle;width:${width}px;" arcsize="13%" stroke="f" fillcolor="${COLOURS.button}"><v:textbox inset="0,0,0,0"><center style="color:${COLOURS.buttonText};${font}">${label}</center></v:textbox></v:roundrect><![endif]-->
                      <!--[if !mso]><!--><table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr><td bgcolor="${COLOURS.button}" style="border-radius:6px;background-color:${COLOURS.button};"><a href="${href}" style="display:inline-block;padding:12px 28px;border-radius:6px;${font}line-height:24px;color:${COLOURS.buttonText};text-decoration:none;">${label}</a></td></tr></table><!--<![endif]-->
                    </td>
                  </tr>
                </table>`;
}
