/**
 * The shop surface's part of `npm run bench` (issue 19, "Measured"): the bench partner's OAuth client, its offers,
 * the preload of checkout baskets for the abandoned listing, and the four shop scenarios. bench/run.ts wires them in.
 *
 *   shop-token      POST /oauth2/token, client credentials in the form body
 *   shop-initiate   POST /api/checkout/initiate, 1–3 offer items, each request a new basket
 *   shop-update     PUT /api/checkout/update, one basket per connection (its landing-state cookie): add an offer,
 *                   change its quantity, remove it again, so every request changes the basket and it stays small
 *   shop-abandoned  GET /api/checkout/abandoned from a random createdAfter within the preloaded baskets' spread,
 *                   following `queryMore` half the time, on ABANDONED_CONNECTIONS connections
 *
 * Targets (issue 19; checked by the bench's report, never by tests): initiate and update at least 15 % of the
 * ceiling, an abandoned page's p99 under 20 ms with 1,000,000 baskets preloaded (`--shop-baskets 1000000`).
 */
import { randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';
import type { PartnerConfig, ShopClientConfig } from '../src/config.js';
import type { Offer, ShopBasket, ShopItem } from '../src/domain/shop/records.js';
import type { ShopStore } from '../src/store/interface/shop.js';
import type { Scenario } from './scenario.js';

export const SHOP_SCENARIOS = ['shop-token', 'shop-initiate', 'shop-update', 'shop-abandoned'] as const;

/** The bench partner's shop client (a plain secret: the service hashes it when it reads the configuration). */
export const SHOP_CLIENT: ShopClientConfig = { id: 'bench-shop-client', secret: 'bench-shop-secret-0123456789', scopes: ['checkout'] as ShopClientConfig['scopes'] };

/**
 * The `shop` section of the bench partner's configuration. The reCAPTCHA secret is never used: no scenario calls a
 * route that asks for reCAPTCHA (the bench runs in production mode, where the development verifier is refused).
 */
export const SHOP_CONFIG: NonNullable<PartnerConfig['shop']> = {
  clients: [SHOP_CLIENT],
  url: 'https://shop.bench.example/',
  recaptcha: { secret: 'bench-recaptcha-secret-unused' },
};

const DAY = 86_400_000;
/** Baskets live 14 days; the preloaded ones are spread over the 13 days before the run, so none expires during it. */
export const SHOP_SPREAD_MS = 13 * DAY;
const BASKET_LIFETIME_MS = 14 * DAY;
/** One preloaded basket in this many is completed (so not listed); the others are open, as abandoned baskets are. */
const COMPLETED_EVERY = 10;

const offer = (id: string, name: string, price: number, type: Offer['type'], term: Offer['term'], crossSells: string[] = []): Offer => ({
  id,
  version: '1',
  name,
  path: `/offers/${id}`,
  type,
  price,
  currency: 'EUR',
  taxRateBp: 1900,
  term,
  products: [{ productCode: `${id}-product`, path: `/products/${id}` }],
  upgrades: [],
  downgrades: [],
  crossSells,
});

/** Offers items are made of: subscriptions, one-off offers and two add-ons (cross-sells of the subscriptions). */
export const SHOP_OFFERS: Offer[] = [
  offer('bench-monthly', 'Bench monthly', 999, 'offer', { length: 1, unit: 'month' }, ['bench-addon-1', 'bench-addon-2']),
  offer('bench-annual', 'Bench annual', 9999, 'offer', { length: 1, unit: 'year' }, ['bench-addon-1', 'bench-addon-2']),
  offer('bench-premium', 'Bench premium monthly', 1999, 'offer', { length: 1, unit: 'month' }, ['bench-addon-1']),
  ...Array.from({ length: 5 }, (_, k) => offer(`bench-box-${k}`, `Bench box ${k}`, 1500 + k * 250, 'offer', null)),
  offer('bench-addon-1', 'Bench add-on 1', 299, 'add_on', { length: 1, unit: 'month' }),
  offer('bench-addon-2', 'Bench add-on 2', 499, 'add_on', { length: 1, unit: 'month' }),
];
/** What requests put into baskets: the offers that need no parent item. */
const MAIN_OFFERS = SHOP_OFFERS.filter((o) => o.type === 'offer');

/** Item k of basket i, with an id of the service's form (`item-<12 hex>`). */
const itemOf = (o: Offer, i: number, k: number, quantity: number): ShopItem => ({
  id: `item-${(i * 3 + k).toString(16).padStart(12, '0')}`,
  type: 'offer',
  offer: { id: o.id, version: o.version },
  productId: null,
  parentId: null,
  quantity,
  name: o.name,
  unitPrice: o.price,
  currency: o.currency,
  taxRateBp: o.taxRateBp,
});

/**
 * Preloaded basket i of n: created at an even spacing over SHOP_SPREAD_MS up to `now`, 1–3 items, customer
 * details as a shop sends them, every COMPLETED_EVERY-th one completed.
 */
export function shopBasketOf(partnerId: string, i: number, n: number, now: number): ShopBasket {
  const created = now - SHOP_SPREAD_MS + Math.floor(((i + 1) * SHOP_SPREAD_MS) / (n + 1));
  const items = Array.from({ length: 1 + (i % 3) }, (_, k) => itemOf(MAIN_OFFERS[(i + k * 3) % MAIN_OFFERS.length]!, i, k, 1 + ((i + k) % 2)));
  const completed = i % COMPLETED_EVERY === COMPLETED_EVERY - 1;
  return {
    id: `basket-${randomUUID()}`,
    partnerId,
    orderType: 'new',
    externalId: null,
    items,
    status: completed ? 'completed' : 'open',
    submission: completed ? { orderId: `order-${randomUUID().replaceAll('-', '')}`, started: created + 60_000 } : null,
    created,
    updated: created,
    expires: created + BASKET_LIFETIME_MS,
    details: {
      customerDetails: { email: `shopper${i}@bench.example`, firstName: 'Bench', lastName: `Shopper ${i}`, companyName: '' },
      tracking: { offers: items.map((it) => it.offer!.id), campaign: 'bench', tag: `t${i % 7}` },
      customFields: {},
      identities: [],
      entry: 'bench',
      country: 'DE',
      source: 'bench',
    },
  };
}

/**
 * Writes the offers and `count` baskets straight into the store, before the service starts. `parallel` writes are
 * in flight at once (1 for SQLite, whose writes are synchronous; more for the server-backed stores).
 */
export async function preloadShop(shop: ShopStore, partnerId: string, count: number, now: number, parallel: number): Promise<void> {
  await shop.putOffers(partnerId, SHOP_OFFERS);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++) {
        const basket = shopBasketOf(partnerId, i, count, now);
        await shop.updateShopBasket(partnerId, basket.id, () => ({ basket, result: null }));
      }
    }),
  );
}

/** An access token from the service, as a shop's server gets one: client credentials in the form body. */
async function fetchToken(base: string): Promise<string> {
  const res = await fetch(`${base}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: tokenForm });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /oauth2/token answered ${res.status}: ${text}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}
const tokenForm = new URLSearchParams({ grant_type: 'client_credentials', client_id: SHOP_CLIENT.id, client_secret: SHOP_CLIENT.secret }).toString();

const initiateBody = (items: { offer: Offer; quantity: number }[]): string =>
  JSON.stringify({
    order: {
      order_type: 'new',
      orderItems: items.map(({ offer: o, quantity }) => ({ offer: { id: o.id, version: o.version }, quantity, type: 'offer' })),
    },
  });

/** 1–3 distinct offers, quantities 1–3. */
function randomItems(): { offer: Offer; quantity: number }[] {
  const first = Math.floor(Math.random() * MAIN_OFFERS.length);
  return Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, k) => ({
    offer: MAIN_OFFERS[(first + k * 2) % MAIN_OFFERS.length]!,
    quantity: 1 + Math.floor(Math.random() * 3),
  }));
}

/** The `name=value` of the landing-state cookie the answer sets (what a browser would send back). */
function landingCookie(res: Response): string {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('limio_state='));
  if (!cookie) throw new Error('initiate set no limio_state cookie');
  return cookie.split(';', 1)[0]!;
}

/**
 * Connections of shop-abandoned: a few campaign tools paging at once. With 50 requests always in flight, a
 * page's p99 would be the queue of 50 pages (50 × a page's ~2 ms of CPU), whatever the number of baskets; the
 * target is about one page's latency with 1,000,000 baskets in the store.
 */
export const ABANDONED_CONNECTIONS = 4;

interface ShopBenchOptions {
  connections: number;
  /** createdAfter is drawn from the preloaded baskets' spread, which ends at this time. */
  preloadedAt: () => number;
}

export function shopScenarios({ connections, preloadedAt }: ShopBenchOptions): Scenario[] {
  let token = '';
  const refreshToken = async (base: string) => {
    token = await fetchToken(base);
  };
  const headers = () => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });
  /** Gives each connection its own request list, made when autocannon sets the connection up (after prepare). */
  const perConnection = (listFor: (c: number) => autocannon.Request[]) => () => {
    let next = 0;
    return (client: autocannon.Client) => client.setRequests(listFor(next++));
  };

  // shop-update: one basket per connection, made afresh before each run (a run may stop mid-cycle)
  const UPDATE_BASE = MAIN_OFFERS[0]!;
  const UPDATE_ADDED = MAIN_OFFERS[1]!;
  let cookies: string[] = [];
  const prepareUpdate = async (base: string) => {
    await refreshToken(base);
    const made: string[] = [];
    for (let from = 0; from < connections; from += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, connections - from) }, async () => {
          const res = await fetch(`${base}/api/checkout/initiate`, { method: 'POST', headers: headers(), body: initiateBody([{ offer: UPDATE_BASE, quantity: 1 }]) });
          if (res.status !== 200) throw new Error(`initiate for shop-update answered ${res.status}: ${await res.text()}`);
          const cookie = landingCookie(res);
          await res.arrayBuffer();
          return cookie;
        }),
      );
      made.push(...batch);
    }
    cookies = made;
  };
  /**
   * A connection's cycle on its own basket: add UPDATE_ADDED (the answer names the new item's id), set that item's
   * quantity to 2, remove it. A failed add leaves no id: the next two requests then name none and count as non-2xx.
   */
  const updateList = (c: number): autocannon.Request[] => {
    const cookie = cookies[c % cookies.length]!;
    let itemId = '';
    const put = (body: () => string): autocannon.Request => ({
      setupRequest: (req) => ({ ...req, method: 'PUT', path: '/api/checkout/update', headers: { ...headers(), cookie }, body: body() }),
    });
    return [
      {
        ...put(() => JSON.stringify({ orderItems: [{ orderItemActionType: 'add', offer: { id: UPDATE_ADDED.id, version: UPDATE_ADDED.version }, type: 'offer', quantity: 1 }] })),
        onResponse: (status, body) => {
          itemId = '';
          if (status !== 200) return;
          const items = (JSON.parse(body) as { order: { orderItems: { id: string; offer?: { id: string } | null }[] } }).order.orderItems;
          itemId = items.find((it) => it.offer?.id === UPDATE_ADDED.id)?.id ?? '';
        },
      },
      put(() => JSON.stringify({ orderItems: [{ orderItemActionType: 'quantity', id: itemId, quantity: 2 }] })),
      put(() => JSON.stringify({ orderItems: [{ orderItemActionType: 'remove', id: itemId }] })),
    ];
  };

  /**
   * A connection's abandoned pages: from a random point of the preloaded spread (a campaign's "since"), or, half
   * the time when the last page had one, the next page through its queryMore cursor.
   */
  let pages = { first: 0, more: 0 };
  const abandonedList = (): autocannon.Request[] => {
    let createdAfter = '';
    let queryMore: string | undefined;
    return [
      {
        setupRequest: (req) => {
          let query: string;
          if (queryMore && Math.random() < 0.5) {
            query = `createdAfter=${encodeURIComponent(createdAfter)}&limit=50&queryMore=${encodeURIComponent(queryMore)}`;
            pages.more++;
          } else {
            const end = preloadedAt();
            // up to a day before the end of the spread, so that most pages are full
            createdAfter = new Date(end - SHOP_SPREAD_MS + Math.floor(Math.random() * (SHOP_SPREAD_MS - DAY))).toISOString();
            query = `createdAfter=${encodeURIComponent(createdAfter)}&limit=50`;
            pages.first++;
          }
          return { ...req, method: 'GET', path: `/api/checkout/abandoned?${query}`, headers: { authorization: `Bearer ${token}` } };
        },
        // the cursor is all this needs from the page: a regular expression, not a parse of ~50 items
        onResponse: (status, body) => {
          queryMore = status === 200 ? /"queryMore":"([^"]+)"/.exec(body)?.[1] : undefined;
        },
      },
    ];
  };

  return [
    {
      name: 'shop-token',
      title: 'shop: access token (POST /oauth2/token, client credentials in the form)',
      target: 'service',
      requests: [{ method: 'POST', path: '/oauth2/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: tokenForm }],
    },
    {
      name: 'shop-initiate',
      title: 'shop: new checkout basket of 1–3 offers (POST /api/checkout/initiate)',
      target: 'service',
      requests: [{}],
      prepare: refreshToken,
      perConnection: perConnection(() =>
        Array.from({ length: 16 }, () => ({ method: 'POST', path: '/api/checkout/initiate', headers: headers(), body: initiateBody(randomItems()) })),
      ),
    },
    {
      name: 'shop-update',
      title: "shop: add / quantity / remove on each connection's basket (PUT /api/checkout/update, landing-state cookie)",
      target: 'service',
      requests: [{}],
      prepare: prepareUpdate,
      perConnection: perConnection(updateList),
    },
    {
      name: 'shop-abandoned',
      title: `shop: a page of 50 abandoned baskets (GET /api/checkout/abandoned, random createdAfter, queryMore half the time; ${ABANDONED_CONNECTIONS} connections)`,
      target: 'service',
      connections: Math.min(connections, ABANDONED_CONNECTIONS),
      requests: [{}],
      prepare: async (base) => {
        pages = { first: 0, more: 0 };
        await refreshToken(base);
      },
      perConnection: perConnection(abandonedList),
      describe: () => `${pages.first + pages.more} pages asked for, ${pages.more} of them through queryMore`,
    },
  ];
}

/** The targets for the shop scenarios: a line per scenario that has one, saying whether the run met it. */
export function shopTargets(results: readonly { scenario: string; ratioToCeiling: number | null; latencyMs: { p99: number } }[], baskets: number): string[] {
  const lines: string[] = [];
  for (const r of results) {
    if ((r.scenario === 'shop-initiate' || r.scenario === 'shop-update') && r.ratioToCeiling !== null) {
      lines.push(`${r.scenario}: ${r.ratioToCeiling.toFixed(2)} of the ceiling, target ≥ 0.15: ${r.ratioToCeiling >= 0.15 ? 'met' : 'NOT met'}`);
    } else if (r.scenario === 'shop-abandoned') {
      const scale = baskets >= 1_000_000 ? '' : ` (the target is at 1,000,000 baskets; this run had ${baskets})`;
      lines.push(`shop-abandoned: p99 ${r.latencyMs.p99} ms, target < 20 ms: ${r.latencyMs.p99 < 20 ? 'met' : 'NOT met'}${scale}`);
    }
  }
  return lines;
}
