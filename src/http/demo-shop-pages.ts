/**
 * The HTML of the demo shop (development partner only, src/http/routes/demo-shop.ts): two static shells whose one
 * script (demo/shop/demo-shop.js) fills them through the shop API. The shells hold no data but the escaped query
 * value of the account page's lookup field; the script writes every value with textContent.
 *
 * Content-Security-Policy: nothing but this response's nonce runs or styles (the script file is loaded with the
 * nonce too), fetches go to this origin only, no inline style attribute, no framing.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { escapeHtml, PAGE_SECURITY_HEADERS } from './routes/landing.js';

export const DEMO_SHOP_SCRIPT_PATH = '/demo/shop/demo-shop.js';
export const DEMO_SHOP_ICON_PATH = '/demo/shop/icon.svg';

/** The pages' icon (a basket), so the browser's favicon request is not a 404 in its console. */
export const DEMO_SHOP_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0057d9"/>' +
  '<path d="M6 12h20l-2.5 12h-15z" fill="#fff"/><path d="M11 12l3-6M21 12l-3-6" stroke="#fff" stroke-width="2" fill="none"/></svg>';

/*
 * Colours (contrast checked by test/browser/demo-shop.test.ts, WCAG AA ≥ 4.5:1): text #1d1d1f and muted #545458 on
 * white and on the page's #f6f6f8; buttons white on #0057d9 (disabled: on #6e6e73); errors #b00020; success
 * #1b5e20. Focus: a 3px outline in the text colour, offset so it shows around the blue buttons.
 */
const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f8;color:#1d1d1f;line-height:1.4}
main{max-width:38rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.intro,.hint,.meta{color:#545458}.hint{font-size:.9rem;margin:.25rem 0 .75rem}
ul{list-style:none;margin:0;padding:0}
li{display:flex;gap:.75rem;align-items:center;background:#fff;border-radius:.75rem;padding:.75rem;margin-bottom:.5rem}
.info{display:flex;flex-direction:column;flex:1;min-width:0;overflow-wrap:anywhere}.name{font-weight:600}
.price{white-space:nowrap;font-weight:600}.total{text-align:right;font-size:1.15rem;margin:1rem 0}
section,form.card{background:#fff;border-radius:.75rem;padding:1rem;margin:1rem 0}
section>h2:first-child,form.card>h2:first-child{margin-top:0}
fieldset{border:1px solid #8e8e93;border-radius:.5rem;margin:0 0 1rem;padding:.5rem .75rem}legend{font-weight:600;padding:0 .25rem}
.option{display:flex;gap:.5rem;align-items:flex-start;padding:.4rem 0}.option input{margin-top:.25rem}
label{font-weight:600}.option label{font-weight:400}
input[type=text],input[type=email]{display:block;width:100%;box-sizing:border-box;font:inherit;padding:.6rem;margin:.25rem 0;
border:1px solid #6e6e73;border-radius:.5rem;background:#fff;color:#1d1d1f}
button{display:block;width:100%;box-sizing:border-box;margin-top:.75rem;padding:.9rem;border:0;border-radius:.75rem;
background:#0057d9;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button:disabled{background:#6e6e73;cursor:default}
a{color:#0057d9}
:focus-visible{outline:3px solid #1d1d1f;outline-offset:2px}
#status{min-height:1.5rem;margin:.75rem 0;font-weight:600}#status.error{color:#b00020}#status.ok{color:#1b5e20}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{color:#545458}dd{margin:0;font-weight:600}
nav{margin-top:2rem}`;

/** A demo page: the shell, its nonce on the one style element and the one script. */
export function demoPage(reply: FastifyReply, kind: 'shop' | 'account', title: string, body: string): FastifyReply {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const html =
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer">` +
    `<meta name="robots" content="noindex,nofollow"><link rel="icon" href="${DEMO_SHOP_ICON_PATH}" type="image/svg+xml"><title>${escapeHtml(title)}</title>` +
    `<style nonce="${nonce}">${STYLE}</style></head><body data-page="${kind}"><main>${body}</main>` +
    `<script nonce="${nonce}" src="${DEMO_SHOP_SCRIPT_PATH}"></script></body></html>\n`;
  return reply
    .code(200)
    .header('Content-Type', 'text/html; charset=utf-8')
    .header('Content-Security-Policy', csp)
    .headers(PAGE_SECURITY_HEADERS)
    .send(html);
}

/** One live region per page: progress, results and errors are announced there. */
const STATUS = `<p id="status" role="status" aria-live="polite" data-testid="status"></p>`;

/** `/demo/shop`: the basket a TV transfer (or a recovery link) lands on, and its order. */
export function shopPageBody(): string {
  return (
    `<h1>Demo shop</h1>` +
    `<p class="intro">The web shop of the development partner. A basket sent from a TV app opens here; place the order to finish.</p>` +
    STATUS +
    `<section id="basket" aria-labelledby="basket-heading" hidden>` +
    `<h2 id="basket-heading">Your basket</h2>` +
    `<ul id="items" data-testid="items"></ul>` +
    `<p class="total">Total: <span id="total" data-testid="total"></span></p>` +
    `<form id="order-form" novalidate>` +
    `<label for="email">Email for the receipt (optional)</label>` +
    `<input id="email" name="email" type="email" autocomplete="email" maxlength="254">` +
    `<button type="submit" id="place-order" data-testid="place-order">Place order</button>` +
    `</form></section>` +
    `<section id="ordered" aria-labelledby="ordered-heading" hidden>` +
    `<h2 id="ordered-heading" tabindex="-1">Thank you for your order</h2>` +
    `<dl><dt>Order number</dt><dd id="order-id" data-testid="order-id"></dd>` +
    `<dt>Reference</dt><dd id="order-reference" data-testid="order-reference"></dd></dl>` +
    `</section>` +
    `<nav aria-label="Demo pages"><a href="/demo/shop/account">Manage a subscription</a></nav>`
  );
}

/** `/demo/shop/account`: a subscription's upgrade and downgrade options, the price of a change, its submission. */
export function accountPageBody(subscription: string): string {
  return (
    `<h1>Your subscription</h1>` +
    `<form class="card" id="lookup" method="get" action="/demo/shop/account">` +
    `<label for="subscription">Subscription id</label>` +
    `<input id="subscription" name="subscription" type="text" required maxlength="128" aria-describedby="subscription-hint" value="${escapeHtml(subscription)}">` +
    `<p class="hint" id="subscription-hint">Demo subscriptions: sub-demo-basic, sub-demo-pending (a downgrade pending).</p>` +
    `<button type="submit">Show my options</button>` +
    `</form>` +
    STATUS +
    `<section id="current" aria-labelledby="current-heading" hidden>` +
    `<h2 id="current-heading">Current plan</h2>` +
    `<dl><dt>Subscription</dt><dd id="subscription-name" data-testid="subscription-name"></dd>` +
    `<dt>Plan</dt><dd id="current-plan" data-testid="current-plan"></dd>` +
    `<dt>Add-ons</dt><dd id="current-addons" data-testid="current-addons"></dd></dl>` +
    `</section>` +
    `<form class="card" id="choose" hidden novalidate>` +
    `<h2 id="choose-heading">Change your plan</h2>` +
    `<fieldset id="upgrades" data-testid="upgrades"><legend>Upgrades</legend></fieldset>` +
    `<fieldset id="downgrades" data-testid="downgrades"><legend>Downgrades</legend></fieldset>` +
    `<button type="submit" id="quote-change" data-testid="quote-change">Show the price of this change</button>` +
    `</form>` +
    `<section id="quote" aria-labelledby="quote-heading" hidden>` +
    `<h2 id="quote-heading">Your change</h2>` +
    `<dl><dt>New plan</dt><dd id="quote-plan" data-testid="quote-plan"></dd>` +
    `<dt>Takes effect</dt><dd><time id="quote-effective" data-testid="quote-effective"></time></dd>` +
    `<dt>Charged now</dt><dd id="quote-proration" data-testid="quote-proration"></dd></dl>` +
    `<button type="button" id="confirm-change" data-testid="confirm-change">Confirm the change</button>` +
    `</section>` +
    `<section id="changed" aria-labelledby="changed-heading" hidden>` +
    `<h2 id="changed-heading" tabindex="-1">Change submitted</h2>` +
    `<dl><dt>Effective</dt><dd><time id="changed-effective" data-testid="changed-effective"></time></dd>` +
    `<dt>Order number</dt><dd id="change-order-id" data-testid="change-order-id"></dd></dl>` +
    `</section>` +
    `<nav aria-label="Demo pages"><a href="/demo/shop">Demo shop</a></nav>`
  );
}
