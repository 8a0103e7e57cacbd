/**
 * `npm run bench`: measures the service against a bare Fastify server (the ceiling) in the same run, on
 * loopback only. Every scenario is bounded in time; the run stops by itself.
 *
 *   npm run bench -- [--baskets 10000] [--duration 10] [--connections 50] [--users 10000]
 *                    [--store sqlite|postgres|redis] [--store-url URL] [--workers 1]
 *                    [--scenarios ceiling,get,assign,...] [--json out.json] [--smoke] [--profile dir]
 *                    [--node-options "--max-old-space-size=96"] [--service-log file] [--ceiling around|once]
 *                    [--repeat 1] [--cart-lines 3] [--attack-connections 20000] [--shop-baskets 100000]
 *                    [--sse-streams 10000] [--sse-writes 1000] [--sse-rate 100]
 *
 * The machine's speed drifts during a run (a VM's slower and faster spells), so by default the ceiling is measured
 * again after every scenario, and each scenario's ratio is to the mean of the two ceiling runs around it; how far
 * those two differ is reported too (`ceiling drift`), and a ratio whose ceiling moved by more than 15 % is marked.
 * A process's JIT decisions also move its figures (the same code lands ~20 % apart from one start to the next), so
 * `--repeat N` runs everything N times with fresh server processes and prints the median of each figure.
 *
 * `slow-attack` runs only when named (`--scenarios slow-attack`): the GET scenario measured while attacker
 * processes (bench/slow-attack.mjs) hold `--attack-connections` slow-body and idle connections from other loopback
 * addresses (issue 17 items 1 and 2); it reports whether the service stayed up and kept answering, and its peak RSS.
 *
 * `sse` runs only when named too (bench/sse.ts, issue 22): `--sse-streams` open change streams on a fresh service
 * process of its own (it needs raised connection and stream caps), then `--sse-writes` writes at `--sse-rate` a
 * second, each timed from its sending to its event on the stream; once per repetition, after the other scenarios.
 * Named alone, it starts neither the ceiling nor the other service, and preloads only the catalogue.
 *
 * The shop surface's scenarios (`shop-*`, issue 19) are in bench/shop.ts; its checkout baskets are preloaded only
 * when one of them runs (`--shop-baskets`, 1,000,000 for the issue's target of the abandoned listing).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import type { PartnerConfig } from '../src/config.js';
import { emptyBasket, type BasketState } from '../src/domain/basket.js';
import { openStore } from '../src/store/open.js';
import type { ProductInput } from '../src/domain/catalogue.js';
import { machineTicks, treeCpu, treeRss } from './proc.js';
import { ceilingDrift, isUnsteady, spread, summarize, UNSTEADY_DRIFT, type ScenarioSummary, type Spread } from './summary.js';
import { runSseBench, type SseResult } from './sse.js';
import type { Scenario } from './scenario.js';
import { preloadShop, SHOP_CONFIG, SHOP_SCENARIOS, shopScenarios, shopTargets } from './shop.js';
import pg from 'pg';
import { Redis } from 'ioredis';

const { values: args } = parseArgs({
  options: {
    baskets: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    users: { type: 'string', default: '10000' },
    /** Lines in each preloaded basket's cart (1–20); a full cart's JSON is ~2 KB, the default's ~0.5 KB. */
    'cart-lines': { type: 'string', default: '3' },
    store: { type: 'string', default: 'sqlite' },
    'store-url': { type: 'string' },
    workers: { type: 'string', default: '1' },
    scenarios: { type: 'string' },
    json: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '1' },
    /** Write a V8 CPU profile of the service to this directory (open it in Chrome DevTools). */
    profile: { type: 'string' },
    /** Extra Node.js options for the service only, e.g. "--max-old-space-size=96" (experiments). */
    'node-options': { type: 'string' },
    /** Append the service's stdout and stderr to this file (e.g. with --node-options=--trace-gc). */
    'service-log': { type: 'string' },
    /** `around`: the ceiling before the first scenario and after each one; `once`: only before the first. */
    ceiling: { type: 'string', default: 'around' },
    /** Run everything this many times, each time with fresh server processes, and print the medians. */
    repeat: { type: 'string', default: '1' },
    /** Connections the attackers of `slow-attack` hold (slow bodies and idle), over several processes. */
    'attack-connections': { type: 'string', default: '20000' },
    /** Checkout baskets preloaded for the shop scenarios (abandoned listing), when one of them runs. */
    'shop-baskets': { type: 'string', default: '100000' },
    /** `sse`: change streams held open, writes sent while they are, and writes a second. */
    'sse-streams': { type: 'string', default: '10000' },
    'sse-writes': { type: 'string', default: '1000' },
    'sse-rate': { type: 'string', default: '100' },
  },
});

const ROOT = path.resolve(import.meta.dirname, '..');
const BASKETS = Number(args.baskets);
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const USERS = Math.min(Number(args.users), BASKETS);
const WARMUP = Number(args.warmup);
const WORKERS = Number(args.workers);
const REPEAT = Number(args.repeat);
for (const [name, v] of Object.entries({ BASKETS, DURATION, CONNECTIONS, USERS, WARMUP, WORKERS })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad --${name.toLowerCase()}`);
}
if (!Number.isInteger(REPEAT) || REPEAT < 1) throw new Error(`--repeat ${args.repeat}: use a whole number from 1`);
if (args.ceiling !== 'around' && args.ceiling !== 'once') throw new Error(`--ceiling ${args.ceiling}: use around or once`);
const CEILING_AROUND = args.ceiling === 'around';
const ATTACK_CONNECTIONS = Number(args['attack-connections']);
if (!Number.isInteger(ATTACK_CONNECTIONS) || ATTACK_CONNECTIONS < 1) throw new Error(`--attack-connections ${args['attack-connections']}: use a whole number from 1`);
const SHOP_BASKETS = Number(args['shop-baskets']);
if (!Number.isInteger(SHOP_BASKETS) || SHOP_BASKETS < 0) throw new Error(`--shop-baskets ${args['shop-baskets']}: use a whole number from 0`);
/** The scenarios named with --scenarios (the ceiling always runs); null: every one that is not diagnostic or an attack. */
const WANTED = args.scenarios ? new Set(args.scenarios.split(',')) : null;
const SHOP_RUNS = SHOP_SCENARIOS.some((s) => WANTED === null || WANTED.has(s));
/** `sse` is not an autocannon scenario: it runs after the others, on its own service (bench/sse.ts). */
const SSE_RUNS = WANTED?.has('sse') ?? false;
/** Only `sse` named: no ceiling, no other service, no preloaded baskets (the streams' users start empty). */
const ONLY_SSE = SSE_RUNS && WANTED!.size === 1;
const SSE_STREAMS = Number(args['sse-streams']);
const SSE_WRITES = Number(args['sse-writes']);
const SSE_RATE = Number(args['sse-rate']);
for (const [name, v] of Object.entries({ 'sse-streams': SSE_STREAMS, 'sse-writes': SSE_WRITES })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} ${v}: use a whole number from 1`);
}
if (!(SSE_RATE > 0)) throw new Error(`--sse-rate ${args['sse-rate']}: use a number above 0`);
const CART_LINES = Number(args['cart-lines']);
if (!Number.isInteger(CART_LINES) || CART_LINES < 1 || CART_LINES > 20) throw new Error(`--cart-lines ${args['cart-lines']}: use 1 to 20`);

const API_KEY = 'bench-api-key-000';
const SECRET = 'bench-secret-0123456789abcdef';
const PARTNER: PartnerConfig = {
  id: 'bench',
  apiKeys: [API_KEY],
  jwt: { secret: SECRET, algorithms: ['HS256'] },
  source: 'bench-tv',
  allowedOrigins: ['*'],
  landingUrl: 'https://shop.bench.example/basket',
  shopUrl: 'https://shop.bench.example/',
  shipping: { flatFee: 495, freeFrom: 5000 },
  psps: ['sandbox'],
  shop: SHOP_CONFIG,
};

/** 10 products in limited stock (assign and GET) and 10 unlimited (checkout, so it never runs dry). */
const PRODUCTS: ProductInput[] = Array.from({ length: 20 }, (_, i) => ({
  productId: `p${i}`,
  variant: i % 2 === 0 ? `v${i}` : null,
  mainProductIdentifier: i % 2 === 0 ? `main${i}` : null,
  name: `Bench product ${i}`,
  brand: 'Bench',
  price: 1000 + i * 100,
  currency: 'EUR',
  taxRateBp: 1900,
  stock: i < 10 ? 1_000_000 : null,
  shopSource: 'bench',
  slug: `bench-${i}`,
  images: [],
}));

function storeUrl(dataDir: string): string {
  if (args['store-url']) return args['store-url'];
  switch (args.store) {
    case 'sqlite':
      return `sqlite:${path.join(dataDir, 'basket.db')}`;
    case 'postgres':
      return `postgres://postgres@127.0.0.1:5432/test?schema=bench_${process.pid}`;
    case 'redis':
      return `redis://127.0.0.1:6379/?prefix=bench${process.pid}:`;
    default:
      throw new Error(`--store ${args.store}: use sqlite, postgres or redis`);
  }
}

/** Removes what the run wrote to a server-backed store (its own schema or key prefix); SQLite goes with dataDir. */
async function dropBenchData(url: string): Promise<void> {
  if (args['store-url']) return; // somebody else's store: leave it alone
  const u = new URL(url.replace(/^sqlite:/, 'sqlite://'));
  if (args.store === 'postgres') {
    const client = new pg.Client({ connectionString: url.replace(/\?.*$/, '') });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(u.searchParams.get('schema')!)} CASCADE`);
    } finally {
      await client.end();
    }
  } else if (args.store === 'redis') {
    const prefix = u.searchParams.get('prefix')!;
    const redis = new Redis(url.replace(/\?.*$/, ''));
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
}

function basketOf(i: number, now: number): BasketState {
  const s = emptyBasket(now, 30 * 86_400_000);
  // the k-th line of user i: the ten limited products first, then the ten unlimited ones, each once
  const pick = (k: number) => PRODUCTS[k < 10 ? (i + k) % 10 : 10 + ((i + k) % 10)]!;
  const line = (p: ProductInput, count: number) => ({
    productId: p.productId,
    count,
    ...(p.variant ? { variant: p.variant } : {}),
    ...(p.mainProductIdentifier ? { mainProductIdentifier: p.mainProductIdentifier } : {}),
  });
  const cart = Array.from({ length: CART_LINES }, (_, k) => line(pick(k), k === 1 ? 2 : 1));
  return { ...s, cart, saved: CART_LINES < 20 ? [line(pick(CART_LINES), 1)] : [] };
}

/** Preloads baskets `u0..u{n-1}` and checkout users straight into the store, before the service starts. */
async function preload(url: string): Promise<void> {
  const store = await openStore(url);
  const t0 = Date.now();
  try {
    await store.upsertProducts(PARTNER.id, PRODUCTS);
    if (ONLY_SSE) {
      log('preloaded the catalogue only (sse alone)');
      return;
    }
    const now = Date.now();
    const parallel = url.startsWith('sqlite:') ? 1 : 64;
    let next = 0;
    const put = async (userId: string, state: BasketState) => {
      await store.updateBasket({ partnerId: PARTNER.id, userId }, () => ({ state, result: null }));
    };
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let i = next++; i < BASKETS; i = next++) await put(`u${i}`, basketOf(i, now));
      }),
    );
    // checkout users, carts of unlimited products
    for (let c = 0; c < CHECKOUT_USERS; c++) {
      const s = emptyBasket(now, 30 * 86_400_000);
      await put(`c${c}`, { ...s, cart: [{ productId: 'p10', count: 1 }, { productId: 'p11', count: 2 }] });
    }
    log(`preloaded ${BASKETS} baskets in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (SHOP_RUNS) {
      const t1 = Date.now();
      const cpu = process.cpuUsage();
      shopPreloadedAt = t1;
      // 64 writes in flight on every engine: SQLite's group commit then writes them in one transaction (measured at
      // 20,000 baskets: 1 in flight 1,800/s, 64 5,400/s, 256 5,900/s, on a loaded machine)
      await preloadShop(store.shop, PARTNER.id, SHOP_BASKETS, t1, 64);
      // the CPU time too: on a shared machine the wall time says more about the neighbours than about the store
      const used = process.cpuUsage(cpu);
      log(`preloaded ${SHOP_BASKETS} shop baskets in ${((Date.now() - t1) / 1000).toFixed(1)} s (${((used.user + used.system) / 1e6).toFixed(1)} s CPU)`);
    }
  } finally {
    await store.close();
  }
}
/** When the shop baskets were preloaded: their created times are spread over the days before it. */
let shopPreloadedAt = Date.now();

/** The Node.js flags `npm start` runs the service with (package.json), so the bench measures the same process. */
function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const m = /^node((?: --[\w-]+(?:=\S+)?)*) dist\/main\.js$/.exec(pkg.scripts.start ?? '');
  if (!m) throw new Error(`package.json "start" is not "node [--flags] dist/main.js": ${pkg.scripts.start}`);
  return m[1]!.split(' ').filter(Boolean);
}

function log(msg: string) {
  process.stderr.write(`bench: ${msg}\n`);
}

function startProcess(
  cmd: string[],
  env: Record<string, string>,
  pattern: RegExp,
  logFile?: string,
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : null;
    // Output is kept only until the process is up (for the error message); a long run must not grow it.
    let out: string | null = '';
    const timer = setTimeout(() => reject(new Error(`${cmd.join(' ')} did not start: ${out}`)), 60_000);
    const onData = (d: Buffer) => {
      log?.write(d);
      if (out === null) return;
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        out = null;
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd.join(' ')} exited with ${code}: ${out}`));
    });
  });
}



/** Connections one attacker process holds: well under the file limit of 20,000 a process has here. */
const ATTACK_PER_PROCESS = 5000;
/** The attackers' addresses: not the measuring client's 127.0.0.1, and more of them than one address's share. */
const ATTACK_ADDRESSES = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`);

export interface AttackReport {
  connections: number;
  processes: number;
  /** Connections the attackers saw connected at most at once, summed over their processes: more than the service
   * holds, since the kernel completes handshakes for connections still waiting in the listen queue. */
  peakOpen: number;
  /** Open files of the service process at most, sampled every 100 ms: its connections, as it holds them. */
  servicePeakFds: number;
  connects: number;
  closedByService: number;
  answered503: number;
  answered408: number;
  /** Closed after another answer (a refusal from the headers alone, such as the webhook's 400). */
  answeredOther: number;
  connectErrors: number;
  /** The service process was still running after the attack, and answered GET /healthz with this status. */
  serviceAlive: boolean;
  healthAfter: number | null;
}

/** Starts the attacker processes against `port`; resolves once they have opened their connections (or after 60 s). */
async function startAttack(port: number): Promise<{ stop(): Promise<Omit<AttackReport, 'serviceAlive' | 'healthAfter' | 'servicePeakFds'>> }> {
  const processes = Math.ceil(ATTACK_CONNECTIONS / ATTACK_PER_PROCESS);
  const children = Array.from({ length: processes }, (_, k) => {
    const count = Math.min(ATTACK_PER_PROCESS, ATTACK_CONNECTIONS - k * ATTACK_PER_PROCESS);
    // each process takes its own addresses in turn, so every address carries a like share
    const mine = ATTACK_ADDRESSES.filter((_, i) => i % processes === k);
    const addresses = mine.length > 0 ? mine : ATTACK_ADDRESSES;
    return spawn(process.execPath, [path.join(ROOT, 'bench/slow-attack.mjs'), String(port), String(count), addresses.join(','), API_KEY], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(children.map((c) => new Promise<void>((resolve) => c.once('message', () => resolve())))),
    new Promise((resolve) => (timer = setTimeout(resolve, 60_000))),
  ]);
  clearTimeout(timer);
  log(`slow-attack: ${processes} attacker process(es) opened ${ATTACK_CONNECTIONS} connections`);
  return {
    async stop() {
      type Counts = { connects: number; peakOpen: number; closedByService: number; answered503: number; answered408: number; answeredOther: number; connectErrors: number };
      const all = await Promise.all(
        children.map(
          (c) =>
            new Promise<Counts | null>((resolve) => {
              if (c.exitCode !== null) return resolve(null);
              c.once('message', (m: { counts: Counts }) => resolve(m.counts));
              c.once('exit', () => resolve(null));
              c.send('stop');
            }),
        ),
      );
      const sum = (k: keyof Counts) => all.reduce((n, c) => n + (c?.[k] ?? 0), 0);
      return {
        connections: ATTACK_CONNECTIONS,
        processes,
        peakOpen: sum('peakOpen'),
        connects: sum('connects'),
        closedByService: sum('closedByService'),
        answered503: sum('answered503'),
        answered408: sum('answered408'),
        answeredOther: sum('answeredOther'),
        connectErrors: sum('connectErrors'),
      };
    },
  };
}

/** What perConnectionList relies on in autocannon 8's RequestIterator (lib/requestIterator.js). */
type BuiltRequest = autocannon.Request & { requestBuffer?: Buffer };
interface BuiltRequestIterator {
  requests: BuiltRequest[];
  currentRequestIndex: number;
  currentRequest: BuiltRequest | undefined;
}

interface GuestJourneyContext {
  guest: { userId: string; token: string } | undefined;
}

interface CheckoutContext {
  user: number;
}

/** Users preloaded with a cart for the checkout scenario. */
const CHECKOUT_USERS = 1000;
let nextCheckoutUser = 0;
/**
 * Aborts every session a run may have left open: a run stops mid-cycle, and a start the server processed may
 * never have reported back. The next run then finds every checkout user's cart free.
 */
async function settleCheckouts(base: string, t: Tokens): Promise<void> {
  const touched = Math.min(nextCheckoutUser, CHECKOUT_USERS);
  for (let from = 0; from < touched; from += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, touched - from) }, (_, k) => {
        const i = USERS + from + k;
        return fetch(`${base}/v2/baskets/users/${t.users[i]}/checkout/sessions/finish-active`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, authorization: `Bearer ${t.tokens[i]}` },
          body: '{"ordered":false}',
        }).then((r) => r.arrayBuffer());
      }),
    );
  }
}

interface Tokens {
  users: string[];
  tokens: string[];
  /** Guest tokens signed with the service's key, each for a guest of its own (`guest-add`); minted on first use. */
  guests: () => string[];
}

/** The guest scenario's user ids: g<index into Tokens.guests>. */
const guestUser = (i: number): string => `g${i}`;
/**
 * Guests per second of the run the pool is sized for: more than the service answers, so every request carries a
 * token it has not seen (a pool that runs out starts over; by then the service's token cache has long dropped the
 * first ones, so they are still checked in full).
 */
const GUEST_RATE = 12_000;

/**
 * The service's own signing key, written where the service looks for it (DATA_DIR/service-keys.json, the file it
 * would otherwise generate), so that the bench can sign guest tokens the service accepts.
 */
function writeServiceKey(dataDir: string): KeyObject {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256' };
  writeFileSync(path.join(dataDir, 'service-keys.json'), JSON.stringify({ signingKid: 'bench', keys: [jwk] }), { mode: 0o600 });
  return privateKey;
}

/** Guest tokens as the service issues them (ES256, iss `basket`, claims sub, guest, pid), signed with node:crypto. */
function mintGuestTokens(key: KeyObject, count: number): string[] {
  const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = segment({ alg: 'ES256', kid: 'bench', typ: 'JWT' });
  const iat = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const input = `${header}.${segment({ sub: guestUser(i), guest: true, pid: PARTNER.id, iss: 'basket', iat, exp: iat + 3600 })}`;
    tokens.push(`${input}.${signBytes('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`);
  }
  return tokens;
}

async function mintTokens(serviceKey: KeyObject): Promise<Tokens> {
  const key = new TextEncoder().encode(SECRET);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const users: string[] = [];
  const tokens: string[] = [];
  // the active audience: USERS users spread over all preloaded baskets
  const stride = Math.max(1, Math.floor(BASKETS / USERS));
  for (let k = 0; k < USERS; k++) users.push(`u${(k * stride) % BASKETS}`);
  for (let c = 0; c < CHECKOUT_USERS; c++) users.push(`c${c}`);
  for (const u of users) tokens.push(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(u).setExpirationTime(exp).sign(key));
  let guests: string[] | null = null;
  const pool = Math.max(1000, Math.ceil(GUEST_RATE * (DURATION + WARMUP)));
  return { users, tokens, guests: () => (guests ??= mintGuestTokens(serviceKey, pool)) };
}

function scenarios(t: Tokens): Scenario[] {
  const json = { 'content-type': 'application/json', 'x-api-key': API_KEY };
  const pick = () => Math.floor(Math.random() * USERS);
  const auth = (i: number) => ({ ...json, authorization: `Bearer ${t.tokens[i]}` });
  const get = (): autocannon.Request => ({
    setupRequest: (req) => {
      const i = pick();
      return { ...req, method: 'GET', path: `/v2/baskets/users/${t.users[i]}`, headers: auth(i) };
    },
  });
  /** Connection c's own users: every CONNECTIONS-th one, so that no user is changed by two connections. */
  const shareOf = (c: number): number[] => {
    const mine: number[] = [];
    for (let i = c; i < USERS; i += CONNECTIONS) mine.push(i);
    if (mine.length === 0) mine.push(c % USERS);
    return mine;
  };
  const shuffle = <T>(list: T[]): T[] => {
    for (let k = list.length - 1; k > 0; k--) {
      const j = Math.floor(Math.random() * (k + 1));
      [list[k], list[j]] = [list[j]!, list[k]!];
    }
    return list;
  };
  /**
   * Gives each connection its own static request list, kept for all the runs of one scenario (warm-up, then
   * measured). autocannon builds every listed request (its raw bytes) in setRequests, and it constructs all
   * connections in one synchronous loop, each sending its first request at once: lists built there held those
   * first responses unread until the last connection was built, ~100 ms for GET's lists and ~250 ms for
   * assign's, which showed as the run's max latency (against the bare server too). So the warm-up builds them,
   * and the measured run is handed the built lists without building them again (autocannon's RequestIterator
   * serves a request's `requestBuffer` as it is unless the request has a setupRequest). Without a warm-up, or
   * should autocannon's internals differ, the lists are built the ordinary way.
   */
  const perConnectionList = (listFor: (c: number) => autocannon.Request[]) => {
    const lists = new Map<number, autocannon.Request[]>();
    return () => {
      let next = 0;
      return (client: autocannon.Client) => {
        const c = next++ % CONNECTIONS;
        const built = lists.get(c);
        const iterator = (client as unknown as { requestIterator?: Partial<BuiltRequestIterator> }).requestIterator;
        if (built && iterator && Array.isArray(iterator.requests) && built.every((r) => Buffer.isBuffer((r as BuiltRequest).requestBuffer))) {
          iterator.requests = built;
          iterator.currentRequestIndex = 0;
          iterator.currentRequest = built[0];
          return;
        }
        const list = built ?? listFor(c);
        lists.set(c, list);
        client.setRequests(list);
      };
    };
  };
  /**
   * GET's requests, built once per run: connection c cycles through its own share of the users, shuffled, so
   * every user is asked for and no two connections walk the same users in lockstep. Static requests cost the
   * load generator what the ceiling's cost it; building each request in a setupRequest nearly doubles its CPU
   * per request, and on two cores that CPU is taken from the server (see `ceiling-get`).
   */
  const getShares = () =>
    perConnectionList((c) => shuffle(shareOf(c)).map((i) => ({ method: 'GET', path: `/v2/baskets/users/${t.users[i]}`, headers: auth(i) })));
  /**
   * Assign's requests, built once per run like GET's, each still changing a line's count: each connection owns
   * its users, and each (user, product) pair it sends appears exactly twice in its list, once with count 1 and
   * once with count 2. However the list is shuffled, the pair's requests alternate 1, 2, 1, 2 … as the connection
   * cycles through it, so no request finds the count it sets (but a pair's first, when the preloaded basket
   * happens to hold that count, or the measured run's first visit of a pair repeats the warm-up's last). The
   * service writes an assign of the count a line already has too (it slides the basket's expiry), so the number
   * of writes would not tell the difference; the line's content does. One random product per user keeps the lists
   * short (twice GET's).
   */
  const assignShares = (extra: Record<string, string> = {}) =>
    perConnectionList((c) =>
      shuffle(
        shareOf(c).flatMap((i) => {
          const path = `/v2/baskets/users/${t.users[i]}/products/p${Math.floor(Math.random() * 10)}`;
          return [1, 2].map((count) => ({ method: 'POST', path, headers: { ...auth(i), ...extra }, body: `{"count":${count}}` }));
        }),
      ),
    );
  const assign = (extra: Record<string, string> = {}): autocannon.Request => ({
    setupRequest: (req) => {
      const i = pick();
      const p = Math.floor(Math.random() * 10);
      const count = 1 + Math.floor(Math.random() * 3);
      return { ...req, method: 'POST', path: `/v2/baskets/users/${t.users[i]}/products/p${p}`, headers: { ...auth(i), ...extra }, body: `{"count":${count}}` };
    },
  });
  /** A playout's tracking header (the seeds' example session, with a provider), as every device request carries it. */
  const tracked = {
    'x-jay-tracking': Buffer.from(
      JSON.stringify({ session_id: 'example-session-id-1234', start_time: '2025-01-01T12:00:00.000000', source: 'jay.api.playout.example', provider_id: 'netflix' }),
    ).toString('base64'),
  };
  const mixed: autocannon.Request = {
    setupRequest: (req, ctx) => (Math.random() < 0.9 ? get().setupRequest as (r: autocannon.Request, c: object) => autocannon.Request : assign().setupRequest as (r: autocannon.Request, c: object) => autocannon.Request)(req, ctx),
  };
  const guests: autocannon.Request = {
    method: 'POST',
    path: '/v2/baskets/guests',
    headers: json,
    body: JSON.stringify({ products: [{ productId: 'p1', count: 1 }, { productId: 'p2', count: 2 }] }),
  };
  // each request a viewer's first add: a guest token the service has not verified yet, a guest without a basket
  let nextGuest = 0;
  const guestAdd: autocannon.Request = {
    setupRequest: (req) => {
      const pool = t.guests();
      const i = nextGuest++ % pool.length;
      const path = `/v2/baskets/users/${guestUser(i)}/products/p${Math.floor(Math.random() * 10)}`;
      return { ...req, method: 'POST', path, headers: { ...json, authorization: `Bearer ${pool[i]}` }, body: '{"count":1}' };
    },
  };
  // a viewer's first two presses: the first creates the guest with its product, the second adds one more with the
  // token just issued (the service that issued it has it cached; another node would check it in full: guest-add)
  const guestJourney: autocannon.Request[] = [
    {
      ...guests,
      body: '{"products":[{"productId":"p1"}]}',
      onResponse: (status, body, ctx) => {
        const c = ctx as GuestJourneyContext;
        c.guest = status === 200 ? (JSON.parse(body) as { data: { userId: string; token: string } }).data : undefined;
      },
    },
    {
      setupRequest: (req, ctx) => {
        const g = (ctx as GuestJourneyContext).guest;
        // a failed creation is counted as its non-2xx; this request then goes without a token (401, counted too)
        const headers = g ? { ...json, authorization: `Bearer ${g.token}` } : json;
        return { ...req, method: 'POST', path: `/v2/baskets/users/${g?.userId ?? 'none'}/products/p2`, headers, body: '{"count":1}' };
      },
    },
  ];
  const transfer = (qr: boolean): autocannon.Request => ({
    setupRequest: (req) => {
      const i = pick();
      return { ...req, method: 'POST', path: `/v2/baskets/users/${t.users[i]}/transfer?qr=${qr}`, headers: auth(i), body: '{}' };
    },
  });
  // each start/finish cycle takes the next user of a pool far larger than the connections, so no two cycles
  // share a user; sessions a run leaves open when it stops are aborted afterwards (see settleCheckouts)
  const checkout: autocannon.Request[] = [
    {
      setupRequest: (req, ctx) => {
        const c = ctx as CheckoutContext;
        c.user = USERS + (nextCheckoutUser++ % CHECKOUT_USERS);
        return { ...req, method: 'POST', path: `/v2/baskets/users/${t.users[c.user]}/checkout/sessions`, headers: auth(c.user), body: '{}' };
      },
    },
    {
      setupRequest: (req, ctx) => {
        const i = (ctx as CheckoutContext).user;
        return { ...req, method: 'POST', path: `/v2/baskets/users/${t.users[i]}/checkout/sessions/finish-active`, headers: auth(i), body: '{"ordered":false}' };
      },
    },
  ];
  return [
    { name: 'ceiling', title: 'bare Fastify, fixed 300-byte JSON', target: 'ceiling', requests: [{ method: 'GET', path: '/' }] },
    {
      name: 'ceiling-get',
      title: "the GET scenario's requests against the bare server: what the load generator can send",
      target: 'ceiling',
      requests: [get()],
      perConnection: getShares(),
      diagnostic: true,
    },
    {
      name: 'ceiling-get-dynamic',
      title: 'GET requests built per request (setupRequest) against the bare server',
      target: 'ceiling',
      requests: [get()],
      diagnostic: true,
    },
    {
      name: 'ceiling-assign',
      title: "assign's requests (POST, JSON body, built once per run) against the bare server, which parses the body: the most assign can reach",
      target: 'ceiling',
      requests: [assign()],
      perConnection: assignShares(),
      diagnostic: true,
    },
    {
      name: 'ceiling-assign-dynamic',
      title: 'assign requests built per request (setupRequest) against the bare server',
      target: 'ceiling',
      requests: [assign()],
      diagnostic: true,
    },
    { name: 'get', title: 'GET basket (partner JWT, many users)', target: 'service', requests: [get()], perConnection: getShares() },
    { name: 'assign', title: 'assign product (POST, many users)', target: 'service', requests: [assign()], perConnection: assignShares() },
    {
      name: 'assign-tracked',
      title: 'assign with an X-JAY-Tracking header: the same requests, each recording its tracking event',
      target: 'service',
      requests: [assign(tracked)],
      perConnection: assignShares(tracked),
    },
    {
      name: 'assign-dynamic',
      title: 'assign with each request built as it is sent (random user, product and count), as the bench did before',
      target: 'service',
      requests: [assign()],
      diagnostic: true,
    },
    { name: 'mixed', title: '90% GET / 10% assign', target: 'service', requests: [mixed] },
    { name: 'guest', title: 'guest creation', target: 'service', requests: [guests] },
    { name: 'guest-add', title: "a new guest's first add (a guest JWT not verified before)", target: 'service', requests: [guestAdd] },
    {
      name: 'guest-journey',
      title: "a new guest's creation with a product, then its second add with the token just issued (two requests)",
      target: 'service',
      requests: guestJourney,
    },
    { name: 'transfer', title: 'transfer without QR', target: 'service', requests: [transfer(false)] },
    { name: 'transfer-qr', title: 'transfer with QR', target: 'service', requests: [transfer(true)] },
    { name: 'checkout', title: 'checkout start + finish (sandbox PSP)', target: 'service', requests: checkout },
    ...shopScenarios({ connections: CONNECTIONS, preloadedAt: () => shopPreloadedAt }),
    {
      name: 'slow-attack',
      title: `GET basket while ${ATTACK_CONNECTIONS} slow-body and idle connections from other addresses press on the service`,
      target: 'service',
      requests: [get()],
      perConnection: getShares(),
      attack: true,
    },
  ];
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  /** Which run of `--repeat` this is, from 1. */
  repetition: number;
  /** Connections the load generator held open (--connections, unless the scenario sets its own). */
  connections: number;
  requestsPerSec: number;
  /** The ceiling's requests/s this ratio is to: the mean of the ceiling runs just before and after (or before). */
  ceilingRequestsPerSec: number | null;
  ratioToCeiling: number | null;
  /** How far the ceiling moved between the runs around this scenario (ceilingDrift); null for `--ceiling once`. */
  ceilingDrift: number | null;
  latencyMs: { p50: number; p99: number; max: number };
  requests: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  peakRssMb: number;
  /** Cores busy in the server (all its processes) and in this process (autocannon) during the measured run. */
  cpu: { serverCores: number; loadGeneratorCores: number; serverMicrosPerRequest: number; machineIdle: number };
  /** `slow-attack` only: what the attackers saw, and whether the service survived. */
  attack?: AttackReport;
}

function run(url: string, s: Scenario, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url, connections: s.connections ?? CONNECTIONS, duration, requests: s.requests, timeout: 10, ...(s.perConnection ? { setupClient: s.perConnection() } : {}) },
      (err: Error | null, result: autocannon.Result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('error', reject);
    // which errors, when there are any (a reset connection, a refused one, a timeout)
    const kinds = new Map<string, number>();
    instance.on('reqError', (err: NodeJS.ErrnoException) => kinds.set(err.code ?? err.message, (kinds.get(err.code ?? err.message) ?? 0) + 1));
    instance.on('done', () => {
      if (kinds.size > 0) log(`${s.name}: request errors ${JSON.stringify(Object.fromEntries(kinds))}`);
    });
  });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-bench-'));
  const children: ChildProcess[] = [];
  /** Stops the servers and waits for them (a profiled service writes its profile on the way out). */
  const stopAll = () =>
    Promise.all(
      children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((resolve) => (c.once('exit', resolve), c.kill('SIGTERM'))))),
    );
  process.on('SIGINT', () => {
    void stopAll().then(() => process.exit(130));
  });
  try {
    const url = storeUrl(dataDir);
    await preload(url);
    const tokens = await mintTokens(writeServiceKey(dataDir));
    const profile = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args.profile)}`] : [];
    const nodeOptions = [...startFlags(), ...(args['node-options'] ? args['node-options'].split(/\s+/).filter(Boolean) : [])];
    const serverCmd = [...profile, ...nodeOptions, ...(args.smoke ? ['--import', 'tsx', 'src/main.ts'] : ['dist/main.js'])];
    const serviceEnv: Record<string, string> = {
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      STORE_URL: url,
      PARTNERS_JSON: JSON.stringify([PARTNER]),
      DEV_PARTNER: 'false',
      LOG_LEVEL: 'warn',
      WORKERS: String(WORKERS),
      NODE_ENV: 'production',
      // the bench's own guest-signing key (DATA_DIR/service-keys.json) and issuer, whatever the shell has set
      SERVICE_KEYS: '',
      SERVICE_ISSUER: 'basket',
      // Rate limits on, counting every request as in production, but far above what the bench sends from one
      // address with one API key (~30,000 req/s): what is measured is the cost of counting, never a 429.
      RATE_LIMIT_PARTNER: '1000000000/1m',
      RATE_LIMIT_USER: '1000000000/1m',
      RATE_LIMIT_GUEST_IP: '1000000000/1m',
      RATE_LIMIT_REDEEM_IP: '1000000000/1m',
      RATE_LIMIT_PUBLIC_IP: '1000000000/1m',
      RATE_LIMIT_AUTH_FAILURES_IP: '1000000000/1m',
    };
    const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
    /** A fresh ceiling and service: each repetition gets its own processes, so its own JIT decisions. */
    const startServers = async (repetition: number) => {
      const ceiling = await startProcess(['bench/ceiling-server.mjs'], {}, listening);
      children.push(ceiling.child);
      const service = await startProcess(serverCmd, serviceEnv, listening, args['service-log']);
      children.push(service.child);
      log(`repetition ${repetition}: service pid ${service.child.pid}, ceiling pid ${ceiling.child.pid}`);
      return { ceiling, service };
    };

    const list = scenarios(tokens).filter((s) => (WANTED ? WANTED.has(s.name) || s.name === 'ceiling' : !s.diagnostic && !s.attack));
    // minted before any run, not in the load generator's first request (~35 µs each)
    if (list.some((s) => s.name === 'guest-add')) log(`minted ${tokens.guests().length} guest tokens`);
    type Servers = Awaited<ReturnType<typeof startServers>>;
    const measure = async ({ ceiling, service }: Servers, s: Scenario, repetition: number): Promise<ScenarioResult> => {
      const target = s.target === 'ceiling' ? ceiling : service;
      const base = `http://127.0.0.1:${target.port}`;
      if (WARMUP > 0) {
        await s.prepare?.(base);
        await run(base, s, WARMUP);
        if (s.name === 'checkout') await settleCheckouts(base, tokens);
      }
      let peakFds = 0;
      const fds = () => {
        try {
          peakFds = Math.max(peakFds, readdirSync(`/proc/${target.child.pid}/fd`).length);
        } catch {
          // the process is gone
        }
      };
      await s.prepare?.(base);
      const fdSampler = s.attack ? setInterval(fds, 100) : null;
      const attack = s.attack ? await startAttack(target.port) : null;
      let peak = treeRss(target.child.pid!);
      const sampler = setInterval(() => (peak = Math.max(peak, treeRss(target.child.pid!))), 100);
      const cpuBefore = treeCpu(target.child.pid!);
      const selfBefore = process.cpuUsage();
      const machineBefore = machineTicks();
      const started = process.hrtime.bigint();
      const r = await run(base, s, DURATION).finally(() => clearInterval(sampler));
      let attackReport: AttackReport | undefined;
      if (attack) {
        const seen = await attack.stop();
        if (fdSampler) clearInterval(fdSampler);
        const alive = target.child.exitCode === null && target.child.signalCode === null;
        const health = alive ? await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((res) => res.status, () => null) : null;
        attackReport = { ...seen, servicePeakFds: peakFds, serviceAlive: alive, healthAfter: health };
        log(`slow-attack: ${JSON.stringify(attackReport)}`);
      }
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const serverCpu = treeCpu(target.child.pid!) - cpuBefore;
      const self = process.cpuUsage(selfBefore);
      const machineAfter = machineTicks();
      const busy = machineAfter[0] - machineBefore[0];
      const idle = machineAfter[1] - machineBefore[1];
      if (s.name === 'checkout') await settleCheckouts(base, tokens);
      peak = Math.max(peak, treeRss(target.child.pid!));
      const rps = r.requests.average;
      const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0]));
      log(`${s.name}: ${Math.round(rps)} req/s, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`);
      if (s.describe) log(`${s.name}: ${s.describe()}`);
      return {
        scenario: s.name,
        title: s.title,
        repetition,
        connections: s.connections ?? CONNECTIONS,
        requestsPerSec: Math.round(rps),
        ceilingRequestsPerSec: null,
        ceilingDrift: null,
        ratioToCeiling: null,
        latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
        requests: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors,
        statusCodes,
        peakRssMb: Math.round(peak / (1024 * 1024)),
        cpu: {
          serverCores: Number((serverCpu / wall).toFixed(2)),
          loadGeneratorCores: Number(((self.user + self.system) / 1e6 / wall).toFixed(2)),
          serverMicrosPerRequest: r.requests.total > 0 ? Math.round((serverCpu * 1e6) / r.requests.total) : 0,
          machineIdle: busy + idle > 0 ? Number((idle / (busy + idle)).toFixed(2)) : 0,
        },
        ...(attackReport ? { attack: attackReport } : {}),
      };
    };
    const ceilingScenario = list.find((s) => s.name === 'ceiling')!;
    const repetitions: ScenarioResult[][] = [];
    const sseRuns: SseRun[] = [];
    for (let repetition = 1; repetition <= REPEAT; repetition++) {
      const results: ScenarioResult[] = [];
      repetitions.push(results);
      if (!ONLY_SSE) await autocannonScenarios(repetition, results);
      await stopAll();
      children.length = 0;
      if (SSE_RUNS) sseRuns.push(await sse(repetition));
      if (REPEAT > 1) log(`repetition ${repetition} of ${REPEAT} done`);
    }

    /** The ceiling first, then each scenario, followed (--ceiling around) by the ceiling again. */
    async function autocannonScenarios(repetition: number, results: ScenarioResult[]): Promise<void> {
      const servers = await startServers(repetition);
      let before = await measure(servers, ceilingScenario, repetition);
      results.push(before);
      for (const s of list.filter((x) => x !== ceilingScenario)) {
        const result = await measure(servers, s, repetition);
        const after = CEILING_AROUND ? await measure(servers, ceilingScenario, repetition) : null;
        const base = after ? (before.requestsPerSec + after.requestsPerSec) / 2 : before.requestsPerSec;
        result.ceilingRequestsPerSec = Math.round(base);
        result.ratioToCeiling = base > 0 ? Number((result.requestsPerSec / base).toFixed(3)) : null;
        result.ceilingDrift = after ? Number(ceilingDrift(before.requestsPerSec, after.requestsPerSec).toFixed(3)) : null;
        results.push(result);
        if (after) {
          results.push(after);
          before = after;
        }
      }
    }

    /** The sse scenario on a service of its own; a failure is reported with the others' figures, not instead. */
    async function sse(repetition: number): Promise<SseRun> {
      try {
        const result = await runSseBench({
          streams: SSE_STREAMS,
          writes: SSE_WRITES,
          rate: SSE_RATE,
          apiKey: API_KEY,
          secret: SECRET,
          products: PRODUCTS.filter((p) => p.stock === null).map((p) => p.productId),
          start: async (caps) => {
            const service = await startProcess(serverCmd, { ...serviceEnv, ...caps }, listening, args['service-log']);
            children.push(service.child);
            log(`repetition ${repetition}: sse service pid ${service.child.pid}`);
            return service;
          },
          log,
        });
        log(`sse: ${JSON.stringify(result)}`);
        return { repetition, ...result };
      } catch (err) {
        log(`sse failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
        return { repetition, error: err instanceof Error ? err.message : String(err) };
      } finally {
        await stopAll();
        children.length = 0;
      }
    }

    const results = repetitions.flat();
    const summary = REPEAT > 1 && results.length > 0 ? summarize(repetitions) : null;
    if (results.length > 0) for (const [i, r] of repetitions.entries()) printTable(r, REPEAT > 1 ? `repetition ${i + 1} of ${REPEAT}` : '');
    if (summary) printSummary(summary);
    const sseSummary = REPEAT > 1 ? summarizeSse(sseRuns) : null;
    if (SSE_RUNS) printSse(sseRuns, sseSummary);
    if (args.json) {
      const report = {
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
        settings: {
          baskets: ONLY_SSE ? 0 : BASKETS,
          shopBaskets: SHOP_RUNS ? SHOP_BASKETS : null,
          users: USERS,
          durationSec: DURATION,
          connections: CONNECTIONS,
          store: args['store-url'] ? 'custom' : args.store,
          workers: WORKERS,
          ceiling: ONLY_SSE ? null : args.ceiling,
          repeat: REPEAT,
          sse: SSE_RUNS ? { streams: SSE_STREAMS, writes: SSE_WRITES, rate: SSE_RATE } : null,
        },
        results,
        ...(summary ? { summary } : {}),
        ...(SSE_RUNS ? { sse: sseRuns } : {}),
        ...(sseSummary ? { sseSummary } : {}),
      };
      writeFileSync(args.json, JSON.stringify(report, null, 2));
      log(`wrote ${args.json}`);
    }
  } finally {
    await stopAll();
    await dropBenchData(storeUrl(dataDir)).catch((err: unknown) => log(`could not remove the bench data: ${String(err)}`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function printTable(results: ScenarioResult[], heading: string): void {
  const head = ['scenario', 'req/s', 'ceiling req/s', 'ceiling drift', 'x ceiling', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'peak RSS MB', 'server cores', 'µs CPU/req', 'bench cores', 'idle'];
  const rows = results.map((r) => [
    r.scenario,
    String(r.requestsPerSec),
    r.ceilingRequestsPerSec === null ? '' : String(r.ceilingRequestsPerSec),
    r.ceilingDrift === null ? '' : `${Math.round(r.ceilingDrift * 100)} %`,
    r.ratioToCeiling === null ? '' : `${r.ratioToCeiling.toFixed(2)}${isUnsteady(r.ceilingDrift) ? '*' : ''}`,
    String(r.latencyMs.p50),
    String(r.latencyMs.p99),
    String(r.latencyMs.max),
    String(r.non2xx),
    String(r.errors),
    String(r.peakRssMb),
    r.cpu.serverCores.toFixed(2),
    String(r.cpu.serverMicrosPerRequest),
    r.cpu.loadGeneratorCores.toFixed(2),
    `${Math.round(r.cpu.machineIdle * 100)} %`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(
    `\nbaskets ${BASKETS}${SHOP_RUNS ? `, shop baskets ${SHOP_BASKETS}` : ''}, active users ${USERS}, ${CONNECTIONS} connections, ${DURATION} s per scenario, store ${args['store-url'] ?? args.store}, workers ${WORKERS}` +
      (CEILING_AROUND ? '; each ratio is to the mean of the ceiling runs before and after it' : '') +
      (heading ? ` (${heading})` : ''),
  );
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  for (const r of results) {
    const a = r.attack;
    if (!a) continue;
    console.log(
      `${r.scenario}: ${a.connections} attacking connections (${a.processes} processes, at most ${a.peakOpen} connected at once, ` +
        `the service at most ${a.servicePeakFds} open files; ` +
        `${a.answered503} answered 503, ${a.answered408} answered 408, ${a.answeredOther} otherwise, ${a.closedByService} closed by the service in all); ` +
        `service ${a.serviceAlive ? 'up' : 'DOWN'}, /healthz after: ${a.healthAfter ?? 'no answer'}; ` +
        `normal GETs: ${r.requestsPerSec} req/s, p99 ${r.latencyMs.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}; service peak RSS ${r.peakRssMb} MB`,
    );
  }
  for (const r of results) if (r.connections !== CONNECTIONS) console.log(`${r.scenario}: ${r.connections} connections (the scenario's own)`);
  for (const t of shopTargets(results, SHOP_BASKETS)) console.log(t);
  if (results.some((r) => isUnsteady(r.ceilingDrift))) {
    console.log(
      `* the ceiling moved by more than ${UNSTEADY_DRIFT * 100} % around this scenario: the machine changed speed while it ran, so its ` +
        'ratio may be off by as much; measure it again (--repeat 3)',
    );
  }
}

/** One repetition's `sse` figures, or why it failed. */
type SseRun = { repetition: number } & (SseResult | { error: string });

/** Over the repetitions that succeeded: the median and range of write → event p99 (issue 22's figure). */
function summarizeSse(runs: SseRun[]): { repetitions: number; writeToEventP99Ms: Spread } | null {
  const ok = runs.filter((r): r is { repetition: number } & SseResult => !('error' in r));
  return ok.length > 0 ? { repetitions: ok.length, writeToEventP99Ms: spread(ok.map((r) => r.writeToEventMs.p99)) } : null;
}

function printSse(runs: SseRun[], summary: ReturnType<typeof summarizeSse>): void {
  const head = ['repetition', 'streams', 'open s', 'RSS MB before/open/end', 'write→event p50/p99/max ms', 'answer p50/p99 ms', 'answer→event p50/p99 ms', 'missed', 'write errors', 'server cores', 'heartbeats'];
  const rows = runs.map((r) =>
    'error' in r
      ? [String(r.repetition), `FAILED: ${r.error}`]
      : [
          String(r.repetition),
          `${r.opened}/${r.streams}`,
          (r.openMs / 1000).toFixed(1),
          `${r.rssMb.before}/${r.rssMb.streamsOpen}/${r.rssMb.end}`,
          `${r.writeToEventMs.p50}/${r.writeToEventMs.p99}/${r.writeToEventMs.max}`,
          `${r.writeAnswerMs.p50}/${r.writeAnswerMs.p99}`,
          `${r.answerToEventMs.p50}/${r.answerToEventMs.p99}`,
          `${r.missed} of ${r.writes}`,
          String(r.writeErrors),
          r.serverCoresDuringWrites.toFixed(2),
          String(r.heartbeatsDuringWrites),
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.length === head.length ? r[i]!.length : 0))));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(
    `\nsse: ${SSE_STREAMS} open change streams on a service of its own, ${SSE_WRITES} writes at ${SSE_RATE}/s to random users, ` +
      `each timed from its sending to its event; store ${args['store-url'] ?? args.store}, workers ${WORKERS}`,
  );
  console.log(line(head));
  for (const r of rows) console.log(r.length === head.length ? line(r) : r.join('  '));
  console.log(
    'heartbeats: comment lines received during the writes; the service sends each stream one every 15 s, a slice of ' +
      'the streams at a time (src/http/live-stream.ts)',
  );
  if (summary) {
    const p = summary.writeToEventP99Ms;
    console.log(`sse: write → event p99 median ${p.median} ms (${p.min}–${p.max}) over ${summary.repetitions} repetitions`);
  }
}

/** Per scenario over all repetitions: the median, and the lowest and highest value in brackets. */
function printSummary(summary: ScenarioSummary[]): void {
  const fmt = (x: Spread, digits = 0) => `${x.median.toFixed(digits)} (${x.min.toFixed(digits)}–${x.max.toFixed(digits)})`;
  const head = ['scenario', 'runs', 'req/s median (range)', 'x ceiling median (range)', 'p99 ms', 'µs CPU/req', 'peak RSS MB'];
  const rows = summary.map((s) => [
    s.scenario,
    String(s.repetitions),
    fmt(s.requestsPerSec),
    s.ratioToCeiling ? fmt(s.ratioToCeiling, 2) : '',
    fmt(s.p99Ms),
    fmt(s.serverMicrosPerRequest),
    String(s.peakRssMb),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\nsummary of ${REPEAT} repetitions, each with a fresh service and ceiling process`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

await main();
