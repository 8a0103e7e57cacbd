/**
 * `npm run bench:sse` (opt-in, heavy: not part of `npm run bench`): the live change stream (issue 22) with many
 * open streams on one service process. Opens `--streams` Server-Sent Events streams (one per user) on a fresh
 * service, then changes random users' baskets one after another (`--writes`, `--rate` a second) and measures,
 * per write, the time from sending the write to the event arriving on the user's stream (the write's own answer
 * time included), reporting p50/p99/max, the write's answer time alone and the time from the answer to the event,
 * the time to open the streams, and the
 * service's RSS with them open.
 *
 *   npm run bench:sse -- [--streams 10000] [--writes 1000] [--rate 100] [--store sqlite|postgres|redis] [--store-url URL]
 *
 * Loopback only; the load generator (this process) shares the machine's cores with the service.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '10000' },
    writes: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '100' },
    store: { type: 'string', default: 'sqlite' },
    'store-url': { type: 'string' },
  },
});
const STREAMS = Number(args.streams);
const WRITES = Number(args.writes);
const RATE = Number(args.rate);
const ROOT = path.resolve(import.meta.dirname, '..');
const SECRET = 'bench-sse-secret-0123456789abcdef';
const API_KEY = 'bench-sse-api-key';
const log = (m: string) => console.log(`[bench:sse] ${m}`);

function storeUrl(dataDir: string): string {
  if (args['store-url']) return args['store-url'];
  if (args.store === 'postgres') return 'postgres://postgres@127.0.0.1:5432/test';
  if (args.store === 'redis') return `redis://127.0.0.1:6379/?prefix=bench-sse-${Date.now()}:`;
  return `sqlite:${path.join(dataDir, 'basket.db')}`;
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Stream {
  user: string;
  /** Resolves the waiter for an event with this id. */
  waiters: Map<string, (at: number) => void>;
  lastId: string | null;
}

function openStream(port: number, user: string, token: string, stream: Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: `/v2/baskets/users/${user}/events`, agent: false, headers: { 'x-api-key': API_KEY, authorization: `Bearer ${token}` } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`stream ${user}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        let buffer = '';
        let first = true;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = performance.now();
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (\d+)$/m.exec(block)?.[1];
            if (id === undefined) continue;
            stream.lastId = id;
            stream.waiters.get(id)?.(at);
            stream.waiters.delete(id);
            if (first) {
              first = false;
              resolve();
            }
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}

function assign(port: number, user: string, token: string, productId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/v2/baskets/users/${user}/products/${productId}`,
        agent: keepAlive,
        headers: { 'x-api-key': API_KEY, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('{"count":1}');
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-bench-sse-'));
  const partner = { id: 'bench', apiKeys: [API_KEY], jwt: { secret: SECRET } };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      STORE_URL: storeUrl(dataDir),
      PARTNERS_JSON: JSON.stringify([partner]),
      DEV_PARTNER: 'false',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      MAX_CONNECTIONS: String(STREAMS + 1000),
      MAX_CONNECTIONS_PER_IP: '0',
      LIVE_MAX_STREAMS: String(STREAMS),
      RATE_LIMIT_PARTNER: '1000000000/1m',
      RATE_LIMIT_USER: '1000000000/1m',
      RATE_LIMIT_PUBLIC_IP: '1000000000/1m',
      RATE_LIMIT_AUTH_FAILURES_IP: '1000000000/1m',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`service exited with ${code}`)));
    });
    const key = new TextEncoder().encode(SECRET);
    const users = Array.from({ length: STREAMS }, (_, i) => `sse-${i}`);
    const tokens = await Promise.all(users.map((u) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(u).setExpirationTime('2h').sign(key)));
    const rssBefore = rssMb(child.pid!);
    const streams = users.map((user) => ({ user, waiters: new Map(), lastId: null }) as Stream);
    const openStart = performance.now();
    for (let i = 0; i < STREAMS; i += 500) {
      await Promise.all(streams.slice(i, i + 500).map((s, k) => openStream(port, s.user, tokens[i + k]!, s)));
    }
    const openMs = performance.now() - openStart;
    const rssOpen = rssMb(child.pid!);
    log(`${STREAMS} streams open in ${Math.round(openMs)} ms; service RSS ${rssBefore} MB → ${rssOpen} MB`);

    const toEvent: number[] = [];
    const toAnswer: number[] = [];
    /** From the write's answer to its event: the stream's own share (negative: the event came first). */
    const answerToEvent: number[] = [];
    let missed = 0;
    const pending: Promise<void>[] = [];
    const gapMs = 1000 / RATE;
    const startAll = performance.now();
    for (let w = 0; w < WRITES; w++) {
      const due = startAll + w * gapMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const i = Math.floor(Math.random() * STREAMS);
      const s = streams[i]!;
      if (s.waiters.size > 0) continue; // that user's previous write is still on its way: pick another next time
      const next = String(Number(s.lastId ?? 0) + 1);
      const t0 = performance.now();
      const event = new Promise<number>((resolve) => s.waiters.set(next, resolve));
      const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000).unref());
      pending.push(
        (async () => {
          const status = await assign(port, s.user, tokens[i]!, `p${w}`);
          const answered = performance.now();
          toAnswer.push(answered - t0);
          if (status !== 200) throw new Error(`assign: HTTP ${status}`);
          const at = await Promise.race([event, timeout]);
          if (at === null) missed++;
          else {
            toEvent.push(at - t0);
            answerToEvent.push(at - answered);
          }
        })(),
      );
    }
    await Promise.all(pending);
    toEvent.sort((a, b) => a - b);
    toAnswer.sort((a, b) => a - b);
    answerToEvent.sort((a, b) => a - b);
    const f = (n: number) => n.toFixed(1);
    const rssEnd = rssMb(child.pid!);
    const result = {
      streams: STREAMS,
      store: args['store-url'] ? 'custom' : args.store,
      writes: toEvent.length + missed,
      missed,
      openMs: Math.round(openMs),
      writeToEventMs: { p50: Number(f(pct(toEvent, 50))), p99: Number(f(pct(toEvent, 99))), max: Number(f(toEvent.at(-1) ?? NaN)) },
      writeAnswerMs: { p50: Number(f(pct(toAnswer, 50))), p99: Number(f(pct(toAnswer, 99))) },
      answerToEventMs: { p50: Number(f(pct(answerToEvent, 50))), p99: Number(f(pct(answerToEvent, 99))) },
      rssMb: { before: rssBefore, streamsOpen: rssOpen, end: rssEnd },
    };
    log(JSON.stringify(result));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
