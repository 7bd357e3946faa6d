import assert from "node:assert/strict";
import { LONG_ESCAPED_NAME, renderPreviews } from "../scripts/email_preview_pages.ts";
import {
  displayName,
  type RenderedEmail,
  type TemplateInput,
  templateInput,
} from "../functions/email/templates/email.ts";
import { renderTrialOffer } from "../functions/email/templates/trial_offer.ts";
import { renderWelcome } from "../functions/email/templates/welcome.ts";
import { type Env, parseSettings } from "../functions/settings.ts";
import { testEnv } from "./support/env.ts";
import { attr, elements, outlookView, parseWellFormed, textContent } from "./support/html.ts";

/** The email settings of the test environment with `overrides`. */
function emailSettings(overrides: Env = {}) {
  const group = parseSettings(testEnv(overrides)).email;
  if (!group.ok) throw new Error(`Invalid test settings: ${group.problems.join("; ")}`);
  return group.value;
}

function input(firstName: string | null, overrides: Env = {}, unsubscribeUrl?: string) {
  return templateInput(emailSettings(overrides), { firstName, unsubscribeUrl });
}

const UNSUBSCRIBE_URL = "https://fn.acme.test/functions/v1/clerk-events/unsubscribe?token=t0k&x=1";

/** Every email in every variant, as the preview renders them, with the test settings. */
function everyVariant(overrides: Env = {}) {
  return renderPreviews(emailSettings(overrides), UNSUBSCRIBE_URL);
}

/** Every href (and img src) in the HTML, including the ones only Outlook sees. */
function links(html: string): { hrefs: string[]; images: string[] } {
  const document = parseWellFormed(outlookView(html));
  const all = [...elements(parseWellFormed(html)), ...elements(document)];
  return {
    hrefs: [...new Set(all.flatMap((e) => attr(e, "href") ?? []))],
    images: [...new Set(all.filter((e) => e.tagName === "img").map((e) => attr(e, "src")!))],
  };
}

/** The words a reader sees in the HTML, spaces collapsed. */
function visibleText(email: RenderedEmail): string {
  const body = elements(parseWellFormed(email.html)).find((e) => e.tagName === "body")!;
  return textContent(body).replace(/[\s\u034f\u2007]+/g, " ");
}

Deno.test("subjects address the person by first name, and read well without one", async (t) => {
  const cases: [string, (i: TemplateInput) => RenderedEmail, string | null, string][] = [
    ["welcome", renderWelcome, "Ada", "Ada, welcome to Acme"],
    ["welcome", renderWelcome, null, "Welcome to Acme"],
    ["welcome", renderWelcome, "   ", "Welcome to Acme"],
    ["trial offer", renderTrialOffer, "Ada", "Ada, try Acme Pro free for 14 days"],
    ["trial offer", renderTrialOffer, null, "Try Acme Pro free for 14 days"],
    ["trial offer", renderTrialOffer, "", "Try Acme Pro free for 14 days"],
  ];
  for (const [kind, render, firstName, subject] of cases) {
    await t.step(`${kind} for ${JSON.stringify(firstName)}: ${subject}`, () => {
      const email = render(input(firstName));
      assert.equal(email.subject, subject);
      assert.match(email.text, firstName?.trim() ? /^Hi Ada,$/m : /^Hello,$/m);
    });
  }

  await t.step("no subject starts with a fallback word or a comma", () => {
    for (const { email } of everyVariant()) {
      assert.doesNotMatch(email.subject, /^(there|friend|hi|hello|hey|user|customer)\b|^[\s,]/i);
      assert.doesNotMatch(email.subject, /\bthere\b/i);
    }
  });

  await t.step("a long name is shortened, and a newline in it cannot break the subject", () => {
    const email = renderWelcome(input(`${"Bartholomew".repeat(6)}\r\nBcc: x@evil.test`));
    assert.ok(!/[\r\n]/.test(email.subject));
    const [name, rest] = email.subject.split(", ");
    assert.equal(rest, "welcome to Acme");
    assert.equal(Array.from(name).length, 40);
    assert.ok(name.startsWith("BartholomewBartholomew") && name.endsWith("…"));
  });
});

Deno.test("the copy comes from the settings", async (t) => {
  await t.step("plan name, trial length and upgrade URL", () => {
    const email = renderTrialOffer(input("Ada", {
      APP_NAME: "Fjord",
      TRIAL_PLAN_NAME: "Team",
      TRIAL_DAYS: "30",
      UPGRADE_URL: "https://billing.fjord.test/start?plan=team",
    }));
    assert.equal(email.subject, "Ada, try Fjord Team free for 30 days");
    assert.ok(email.text.includes("https://billing.fjord.test/start?plan=team"));
    assert.ok(links(email.html).hrefs.includes("https://billing.fjord.test/start?plan=team"));
    assert.doesNotMatch(email.text + email.html, /\bPro\b|14 days|Acme (Pro|team)/);
  });

  await t.step("one trial day is '1 day'", () => {
    assert.equal(
      renderTrialOffer(input(null, { TRIAL_DAYS: "1" })).subject,
      "Try Acme Pro free for 1 day",
    );
  });

  await t.step("the upgrade link keeps APP_URL's path", () => {
    const email = renderTrialOffer(input("Ada", { APP_URL: "https://acme.test/app" }));
    assert.ok(links(email.html).hrefs.includes("https://acme.test/app/upgrade"));
    assert.ok(email.text.includes("https://acme.test/app/upgrade"));
  });

  await t.step("the trial offer says when the user joined, from the real delay", () => {
    const cases: [string, string][] = [
      ["30m", "earlier today"],
      ["5h", "earlier today"],
      ["12h", "12 hours ago"],
      ["1d", "yesterday"],
      ["3d", "3 days ago"],
      ["1d12h", "2 days ago"],
      ["2w", "2 weeks ago"],
      ["90d", "3 months ago"],
    ];
    for (const [delay, words] of cases) {
      const email = renderTrialOffer(input("Ada", { ONBOARDING_TRIAL_OFFER_DELAY: delay }));
      const sentence = `You joined Acme ${words}`;
      assert.ok(email.text.includes(sentence), `${delay}: text says "${sentence}"`);
      assert.ok(visibleText(email).includes(sentence), `${delay}: HTML says "${sentence}"`);
      assert.doesNotMatch(email.text, /a few days/);
    }
  });

  await t.step("the logo shows with the app name as its alt text", () => {
    const email = renderWelcome(input("Ada", { APP_LOGO_URL: "https://cdn.acme.test/logo.png" }));
    const images = elements(parseWellFormed(email.html)).filter((e) => e.tagName === "img");
    assert.equal(images.length, 1);
    assert.equal(attr(images[0], "src"), "https://cdn.acme.test/logo.png");
    assert.equal(attr(images[0], "alt"), "Acme");
  });
});

Deno.test("the emails are well-formed documents fit for mail clients", async (t) => {
  for (const { name, email } of everyVariant({ APP_LOGO_URL: "https://cdn.acme.test/l.png" })) {
    await t.step(name, () => {
      const document = parseWellFormed(email.html);
      const all = elements(document);
      const html = all.find((e) => e.tagName === "html")!;
      assert.equal(attr(html, "lang"), "en");
      assert.equal(textContent(all.find((e) => e.tagName === "title")!), email.subject);
      const scheme = all.find((e) => e.tagName === "meta" && attr(e, "name") === "color-scheme");
      assert.equal(attr(scheme!, "content"), "light dark");
      assert.ok(
        all.some((e) => e.tagName === "style" && /prefers-color-scheme: dark/.test(textContent(e))),
        "dark-mode colours",
      );
      // The preheader is the body's first element, hidden, and says something.
      const body = all.find((e) => e.tagName === "body")!;
      const preheader = body.childNodes.find((n) => "tagName" in n) as typeof body;
      assert.match(attr(preheader, "style") ?? "", /display:none/);
      assert.match(attr(preheader, "style") ?? "", /mso-hide:all/);
      assert.ok(textContent(preheader).trim().length > 20);
      // Layout by tables, not by divs with widths.
      assert.ok(all.filter((e) => e.tagName === "table").every((e) => attr(e, "role")));
      assert.ok(
        !all.some((e) => e.tagName === "div" && /(?<![-\w])width\s*:/.test(attr(e, "style") ?? "")),
      );
      // Outlook gets a fixed-width table and a VML button to the same place.
      const outlook = elements(parseWellFormed(outlookView(email.html)));
      assert.ok(outlook.some((e) => e.tagName === "table" && attr(e, "width") === "600"));
      const vml = outlook.find((e) => e.tagName === "v:roundrect");
      const button = all.find((e) =>
        e.tagName === "a" && (attr(e, "style") ?? "").includes("display:inline-block")
      );
      assert.ok(vml && button, "a VML button for Outlook and a link button for the others");
      assert.equal(attr(vml, "href"), attr(button, "href"));
      // Every element that Outlook would ignore a stylesheet for carries inline styles.
      for (const e of all.filter((e) => ["p", "h1", "a", "td"].includes(e.tagName))) {
        if (e.tagName === "td" && !attr(e, "class") && !attr(e, "bgcolor")) continue;
        assert.ok(attr(e, "style"), `<${e.tagName}> has an inline style`);
      }
    });
  }
});

Deno.test("every link is absolute and goes where the settings say", async (t) => {
  const overrides = {
    APP_URL: "https://acme.test/app",
    SUPPORT_EMAIL: "help@acme.test",
    APP_LOGO_URL: "https://cdn.acme.test/logo.png",
  };
  const emails = [
    ...everyVariant(overrides).map((p) => ({ name: p.name, email: p.email, input: p.input })),
    {
      name: "trial_offer with a real unsubscribe URL",
      input: input("Ada", overrides, UNSUBSCRIBE_URL),
      email: renderTrialOffer(input("Ada", overrides, UNSUBSCRIBE_URL)),
    },
  ];
  for (const { name, email, input } of emails) {
    await t.step(name, () => {
      const allowed = [
        (href: string) =>
          href === "https://acme.test/app" || href.startsWith("https://acme.test/app/"),
        (href: string) => href === input.copy.upgradeUrl,
        (href: string) =>
          href === "mailto:help@acme.test" || href === "mailto:help@acme.test?subject=Unsubscribe",
        (href: string) => href === input.unsubscribeUrl,
      ];
      const { hrefs, images } = links(email.html);
      assert.ok(hrefs.length >= 2);
      for (const href of hrefs) {
        const url = new URL(href); // throws on a relative link
        assert.ok(["https:", "mailto:"].includes(url.protocol), `${href} is https or mailto`);
        assert.ok(allowed.some((ok) => ok(href)), `${href} is under the configured URLs`);
      }
      assert.deepEqual(images, ["https://cdn.acme.test/logo.png"]);
    });
  }
});

Deno.test("the plain text reads on its own and carries every link of the HTML", async (t) => {
  for (const { name, email, input } of everyVariant()) {
    await t.step(name, () => {
      for (const href of links(email.html).hrefs) {
        const spelled = href.startsWith("mailto:") ? new URL(href).pathname : href;
        assert.ok(email.text.includes(spelled), `the text carries ${spelled}`);
      }
      const name = displayName(input.firstName);
      const copy = name ? email.text.replaceAll(name, "") : email.text;
      assert.doesNotMatch(copy, /<[a-z/!]|&[a-z]+;|&#/i, "no markup or entities");
      for (const line of input.copy.postalAddress) assert.ok(email.text.includes(line));
      assert.ok(email.text.includes(`The ${input.appName} team`));
    });
  }
});

Deno.test("footers carry what the law and mailbox providers ask for", async (t) => {
  await t.step("the welcome email: postal address and a support link", () => {
    const email = renderWelcome(input("Ada", { SUPPORT_EMAIL: "help@acme.test" }));
    const text = visibleText(email);
    assert.ok(text.includes("Acme Inc., 1 Test Street, Testville, TS 00000"));
    assert.ok(links(email.html).hrefs.includes("mailto:help@acme.test"));
    assert.match(text, /You are receiving this email because you signed up for Acme/);
  });

  await t.step("the trial offer: postal address, why it came, and the unsubscribe link", () => {
    const email = renderTrialOffer(input("Ada", {}, UNSUBSCRIBE_URL));
    const text = visibleText(email);
    assert.ok(text.includes("Acme Inc., 1 Test Street, Testville, TS 00000"));
    assert.match(text, /You are receiving this email because you signed up for Acme/);
    const { hrefs } = links(email.html);
    assert.ok(hrefs.includes(UNSUBSCRIBE_URL));
    assert.ok(!hrefs.some((href) => href.includes("subject=Unsubscribe")));
    assert.ok(email.text.includes(UNSUBSCRIBE_URL));
    assert.ok(email.html.includes(UNSUBSCRIBE_URL.replace("&", "&amp;")), "& escaped in href");
  });

  await t.step("the trial offer without an unsubscribe URL says how to stop the emails", () => {
    const email = renderTrialOffer(input("Ada", { SUPPORT_EMAIL: "help@acme.test" }));
    assert.ok(links(email.html).hrefs.includes("mailto:help@acme.test?subject=Unsubscribe"));
    assert.match(
      email.text,
      /To stop these emails, write to help@acme\.test with the subject "Unsubscribe"/,
    );
  });
});

Deno.test("nothing user-supplied reaches the HTML unescaped", async (t) => {
  const hostile = {
    APP_NAME: `Acme <img src=x onerror=alert(1)> & "Co" 'Ltd'`,
    EMAIL_POSTAL_ADDRESS: `<b>1</b> Main St & "Sons", Springfield`,
    TRIAL_PLAN_NAME: `Pro & "Plus" 'X'`,
  };
  const variants = [
    ...everyVariant(hostile),
    ...[renderWelcome, renderTrialOffer].map((render) => ({
      name: `${render.name.replace("render", "")} with markup in the first name`,
      email: render(input(`<script>alert("x")</script>`, hostile)),
    })),
  ];
  for (const { name, email } of variants) {
    await t.step(name, () => {
      const document = parseWellFormed(email.html);
      const tags = new Set(elements(document).map((e) => e.tagName));
      for (const tag of ["script", "b"]) assert.ok(!tags.has(tag), `no <${tag}> element`);
      assert.ok(!elements(document).some((e) => e.attrs.some((a) => a.name === "onerror")));
      const text = visibleText(email);
      // What was escaped reads back as the person wrote it.
      assert.ok(text.includes(hostile.APP_NAME));
      assert.ok(text.includes(hostile.EMAIL_POSTAL_ADDRESS));
      if (/trial/i.test(name)) {
        assert.ok(text.includes(`${hostile.APP_NAME} ${hostile.TRIAL_PLAN_NAME}`));
      }
    });
  }

  await t.step("the long name of the preview is escaped everywhere in the HTML", () => {
    const email = renderTrialOffer(input(LONG_ESCAPED_NAME));
    assert.ok(!email.html.includes("<b>"));
    assert.ok(email.html.includes("&lt;b&gt;&quot;Zoë&quot;&lt;/b&gt; O&#39;"));
    assert.ok(visibleText(email).includes(`Hi Maximiliana-Alexandrine <b>"Zoë"</b> O'…,`));
  });
});
