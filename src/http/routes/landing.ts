/**
 * The landing page a phone opens from a transfer QR code: `GET /landing?jaySource=..&jayToken=..`.
 *
 * Safety: the page never sees an API key or guest token. `GET` only checks (without consuming) that the token is
 * live and answers a small page whose script submits `POST /landing` with the token; link previewers and
 * prefetchers that fetch the URL without running scripts therefore cannot burn the single-use token. The `POST`
 * redeems it server-side (the token record names the partner) and renders the basket. Everything interpolated
 * is HTML-escaped; a strict Content-Security-Policy with a per-response nonce allows no other script; the
 * token-bearing URL never leaks through `Referer` (no-referrer) or caches (no-store).
 *
 * Live (issue 22): the rendered basket carries a stream ticket for its own change stream; a small same-origin script
 * (`/landing/live.js`, allowed by the page's nonce) opens it with EventSource and, whenever the basket's version
 * differs from the one shown, fetches the basket again as HTML rendered here (`/landing/basket?ticket=`), so the
 * phone shows the TV's later changes without a reload, and nothing is rendered from data in the browser.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { PartnerRegistry } from '../../auth/partners.js';
import type { StreamTickets } from '../../auth/stream-tickets.js';
import { emptyBasket, liveBasket, type Line } from '../../domain/basket.js';
import type { Product } from '../../domain/catalogue.js';
import { BasketError } from '../../domain/errors.js';
import { toMajor } from '../../domain/money.js';
import type { BasketOwner, BasketService } from '../../service/baskets.js';
import { NO_ATTRIBUTION, type EventRecorder } from '../../service/events.js';
import type { TransferService } from '../../service/transfer.js';

export interface LandingRoutesOptions {
  baskets: BasketService;
  transfers: TransferService;
  partners: PartnerRegistry;
  /** A redemption here records a tracking event too (no tracking header: a browser, not the playout). */
  events?: EventRecorder;
  /** Stream tickets: with them the rendered basket updates itself live (issue 22); without, it is static. */
  tickets?: StreamTickets;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** An http(s) URL fit for an href/src attribute (escaped), or null. */
export function safeHttpUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? escapeHtml(u.href) : null;
  } catch {
    return null;
  }
}

export function formatPrice(minor: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).format(toMajor(minor, currency));
  } catch {
    return `${toMajor(minor, currency)} ${currency}`;
  }
}

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f8;color:#1d1d1f}
main{max-width:36rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.5rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
ul{list-style:none;margin:0;padding:0}
li{display:flex;gap:.75rem;align-items:center;background:#fff;border-radius:.75rem;padding:.75rem;margin-bottom:.5rem}
img,.noimg{flex:none;width:4rem;height:4rem;object-fit:cover;border-radius:.5rem;background:#eee}
.info{display:flex;flex-direction:column;flex:1;min-width:0;overflow-wrap:anywhere}.name{font-weight:600}.brand,.empty{color:#6e6e73;font-size:.9rem}
.price{white-space:nowrap;font-weight:600}.total{text-align:right;font-size:1.1rem;margin:1rem 0}
.button,button{display:block;width:100%;box-sizing:border-box;text-align:center;padding:.9rem;border:0;border-radius:.75rem;
background:#0a66ff;color:#fff;font-size:1rem;text-decoration:none;cursor:pointer}`;

/** The headers of every page a browser renders (the landing page, /docs), besides its Content-Security-Policy. */
export const PAGE_SECURITY_HEADERS = {
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
} as const;

/** A script of the page: inline code, or the URL of a same-origin script file. */
type PageScript = { inline: string } | { src: string };

function page(reply: FastifyReply, status: number, title: string, body: string, script?: PageScript): FastifyReply {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    script ? `script-src 'nonce-${nonce}'` : "script-src 'none'",
    // the live basket's stream and its re-rendered HTML come from this service only
    ...(script && 'src' in script ? ["connect-src 'self'"] : []),
    'img-src https: http: data:',
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const html =
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer">` +
    `<meta name="robots" content="noindex,nofollow"><title>${escapeHtml(title)}</title>` +
    `<style nonce="${nonce}">${STYLE}</style></head><body><main>${body}</main>` +
    (script === undefined
      ? ''
      : 'src' in script
        ? `<script nonce="${nonce}" src="${escapeHtml(script.src)}"></script>`
        : `<script nonce="${nonce}">${script.inline}</script>`) +
    `</body></html>\n`;
  return reply
    .code(status)
    .header('Content-Type', 'text/html; charset=utf-8')
    .header('Content-Security-Policy', csp)
    .headers(PAGE_SECURITY_HEADERS)
    .send(html);
}

function gone(reply: FastifyReply): FastifyReply {
  return page(
    reply,
    410,
    'Link expired or used',
    `<h1 data-testid="expired">This link has expired or was already used</h1>` +
      `<p>Basket links work once and only for a minute. Scan the QR code on your TV again to get a fresh one.</p>`,
  );
}

/** The token from a query or form body: one string, or '' when absent or repeated. */
function tokenFrom(source: unknown): string {
  if (typeof source !== 'object' || source === null) return '';
  const v = (source as Record<string, unknown>).jayToken;
  return typeof v === 'string' ? v : '';
}

function lineItem(line: Line, product: Product | undefined): { html: string; total: number | null; currency: string | null } {
  const name = product?.name ?? line.productId;
  const image = safeHttpUrl(product?.images[0]);
  const unit = product && product.price !== null ? product.price : null;
  const total = unit === null ? null : unit * line.count;
  const price = total === null || !product ? '–' : formatPrice(total, product.currency);
  const html =
    `<li data-testid="line">` +
    (image ? `<img src="${image}" alt="" loading="lazy" referrerpolicy="no-referrer">` : `<span class="noimg"></span>`) +
    `<div class="info"><span class="name">${escapeHtml(name)}</span>` +
    (product?.brand ? `<span class="brand">${escapeHtml(product.brand)}</span>` : '') +
    (line.variant ? `<span class="brand">${escapeHtml(line.variant)}</span>` : '') +
    `<span class="brand">Quantity: ${line.count}</span></div>` +
    `<span class="price">${escapeHtml(price)}</span></li>`;
  return { html, total, currency: product?.currency ?? null };
}

/**
 * The live page's script: EventSource on the basket's stream; when an event's id (the basket version) differs from
 * the version shown, the basket's HTML is fetched again (one fetch at a time, the last change wins). If the stream
 * is refused for good (the ticket expired), it says so; EventSource reconnects by itself after a dropped connection.
 */
export const LIVE_SCRIPT = `'use strict';
(function () {
  var root = document.getElementById('live');
  var status = document.getElementById('live-status');
  if (!root || !root.dataset.stream || typeof EventSource !== 'function') return;
  var shown = root.dataset.version;
  var wanted = shown;
  var loading = false;
  function refresh() {
    if (loading || wanted === shown) return;
    loading = true;
    var target = wanted;
    fetch(root.dataset.fragment, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return Promise.all([r.text(), r.headers.get('X-Basket-Version')]);
      })
      .then(function (got) {
        root.innerHTML = got[0];
        shown = got[1] || target;
        root.dataset.version = shown;
      })
      .catch(function () {})
      .then(function () {
        loading = false;
        if (wanted !== shown && wanted !== target) refresh();
      });
  }
  var source = new EventSource(root.dataset.stream);
  source.addEventListener('basket', function (e) {
    wanted = e.lastEventId;
    if (status) status.textContent = '';
    refresh();
  });
  source.addEventListener('error', function () {
    if (status && source.readyState === EventSource.CLOSED) status.textContent = 'Live updates have stopped. Open the link from your TV again to see later changes.';
  });
})();
`;

export const landingRoutes: FastifyPluginAsync<LandingRoutesOptions> = async (app, { baskets, transfers, partners, events, tickets }) => {
  // Form posts of the landing page; scoped to this plugin (the API itself speaks JSON only).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    done(null, Object.fromEntries(new URLSearchParams(text)));
  });

  /** The basket's lists and total as HTML, and the version they show. */
  const renderBasket = async (owner: BasketOwner): Promise<{ html: string; version: number }> => {
    const stored = await baskets.store.getBasket(owner);
    const now = baskets.now();
    const basket = liveBasket(stored?.state, now) ?? emptyBasket(now, baskets.lifetime(owner));
    const ids = [...new Set([...basket.cart, ...basket.saved, ...basket.checkout].map((l) => l.productId))];
    const products = ids.length > 0 ? await baskets.store.getProducts(owner.partnerId, ids) : new Map<string, Product>();
    const cart = basket.cart.map((l) => lineItem(l, products.get(l.productId)));
    const saved = basket.saved.map((l) => lineItem(l, products.get(l.productId)));
    const currencies = new Set(cart.map((c) => c.currency));
    const priced = cart.length > 0 && cart.every((c) => c.total !== null) && currencies.size === 1;
    const total = priced ? formatPrice(cart.reduce((sum, c) => sum + c.total!, 0), [...currencies][0]!) : null;
    const html =
      (cart.length > 0 ? `<ul data-testid="cart">${cart.map((c) => c.html).join('')}</ul>` : `<p class="empty" data-testid="cart-empty">Your cart is empty.</p>`) +
      (total ? `<p class="total" data-testid="total">Total: ${escapeHtml(total)}</p>` : '') +
      (saved.length > 0 ? `<h2>Saved for later</h2><ul data-testid="saved">${saved.map((c) => c.html).join('')}</ul>` : '');
    return { html, version: stored?.version ?? 0 };
  };

  app.get('/landing', { schema: { hide: true } }, async (req: FastifyRequest, reply) => {
    const token = tokenFrom(req.query);
    if ((await transfers.peek(token)) === null) return gone(reply);
    const body =
      `<h1>Your basket is on its way</h1>` +
      `<form method="post" action="landing"><input type="hidden" name="jayToken" value="${escapeHtml(token)}">` +
      `<button type="submit" data-testid="open">Show my basket</button></form>`;
    return page(reply, 200, 'Your basket', body, { inline: 'document.forms[0].submit();' });
  });

  app.post('/landing', { schema: { hide: true } }, async (req: FastifyRequest, reply) => {
    let record;
    try {
      record = await transfers.take(tokenFrom(req.body));
    } catch (err) {
      if (err instanceof BasketError && err.kind === 'TRANSFER_TOKEN_INVALID') return gone(reply);
      throw err;
    }
    const owner = { partnerId: record.partnerId, userId: record.userId, guest: true };
    void events?.record(owner.partnerId, owner.userId, 'redeem', NO_ATTRIBUTION);
    const { html, version } = await renderBasket(owner);
    const partner = partners.byId(record.partnerId);
    const shop = safeHttpUrl(partner?.shopUrl);
    // the stream and the re-rendered basket, relative to /landing (as the form's action is)
    const ticket = tickets?.issue(owner).ticket;
    const live = ticket
      ? ` data-stream="${escapeHtml(`v2/baskets/users/${encodeURIComponent(owner.userId)}/events?ticket=${encodeURIComponent(ticket)}`)}"` +
        ` data-fragment="${escapeHtml(`landing/basket?ticket=${encodeURIComponent(ticket)}`)}" data-version="${version}"`
      : '';
    const body =
      `<h1 data-testid="basket">Your basket${partner?.name ? ` from ${escapeHtml(partner.name)}` : ''}</h1>` +
      `<div id="live" data-testid="live"${live}>${html}</div>` +
      (ticket ? `<p class="empty" id="live-status" data-testid="live-status" aria-live="polite"></p>` : '') +
      (shop ? `<p><a class="button" data-testid="shop" href="${shop}" rel="noopener noreferrer">Continue to shop</a></p>` : '');
    return page(reply, 200, 'Your basket', body, ticket ? { src: 'landing/live.js' } : undefined);
  });

  app.get('/landing/live.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').header('X-Content-Type-Options', 'nosniff').send(LIVE_SCRIPT),
  );

  // the basket's HTML again, for the live page's script; the stream ticket is the only credential
  app.get('/landing/basket', { schema: { hide: true } }, async (req: FastifyRequest, reply) => {
    const raw = (req.query as { ticket?: unknown } | undefined)?.ticket;
    const owner = typeof raw === 'string' ? tickets?.verify(raw) : null;
    if (!owner) {
      return reply.code(401).type('text/plain; charset=utf-8').headers(PAGE_SECURITY_HEADERS).send('This basket link has expired; open it again from your TV.');
    }
    const { html, version } = await renderBasket(owner);
    return reply
      .type('text/html; charset=utf-8')
      .header('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'")
      .header('X-Basket-Version', String(version))
      .headers(PAGE_SECURITY_HEADERS)
      .send(html);
  });
};
