/**
 * The `sse` scenario of `npm run bench` (opt-in: `--scenarios sse`): the live change stream (issue 22) with many
 * open streams on one service process. Opens `streams` Server-Sent Events streams (one per user) on a fresh
 * service, then changes random users' baskets one after another (`writes`, `rate` a second) and measures, per
 * write, the time from sending the write to the event arriving on the user's stream (the write's own answer time
 * included), reporting p50/p99/max, the write's answer time alone and the time from the answer to the event, the
 * time to open the streams, the service's RSS with them open and its CPU during the writes.
 *
 * bench/run.ts starts the service (its command, store and partner); this module adds the caps the streams need.
 * Loopback only; the load generator (this process) shares the machine's cores with the service.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { SignJWT } from 'jose';
import { treeCpu, treeRss } from './proc.js';

export interface SseOptions {
  streams: number;
  /** Writes sent in all; a write that would land on a user whose previous one is still on its way is skipped. */
  writes: number;
  /** Writes a second. */
  rate: number;
  /** The bench partner's API key and HS256 secret: the streams' users get tokens of their own. */
  apiKey: string;
  secret: string;
  /** Products of the partner's catalogue the writes put into baskets (unlimited stock: no write is refused). */
  products: readonly string[];
  /** Starts the service with these settings over the bench's own; the module stops it (SIGTERM) when done. */
  start: (env: Record<string, string>) => Promise<{ child: ChildProcess; port: number }>;
  log: (msg: string) => void;
}

export interface SseResult {
  streams: number;
  /** Streams that answered 200 and sent their first event. */
  opened: number;
  /** Writes measured (answered, then their event seen or missed). */
  writes: number;
  /** Writes answered other than 200 or failed on the connection (not measured further). */
  writeErrors: number;
  /** Writes whose event did not arrive within MISS_MS. */
  missed: number;
  openMs: number;
  writeToEventMs: { p50: number; p99: number; max: number };
  writeAnswerMs: { p50: number; p99: number };
  /** From the write's answer to its event: the stream's own share (negative: the event came first). */
  answerToEventMs: { p50: number; p99: number };
  rssMb: { before: number; streamsOpen: number; end: number };
  /** Cores busy in the service during the writes (the 10,000 streams' heartbeats included). */
  serverCoresDuringWrites: number;
  /**
   * Heartbeats (comment lines) the streams received during the writes: the service sends one to every stream in
   * the same turn every LIVE_HEARTBEAT (15 s), so a write phase shorter than that has one such burst or none.
   */
  heartbeatsDuringWrites: number;
}

/** A write whose event has not arrived after this long counts as missed. */
const MISS_MS = 10_000;
/** Streams opened at once; each waits for its first event before the next batch. */
const OPEN_BATCH = 500;
/** A stream that has not sent its first event after this long fails the run. */
const OPEN_TIMEOUT_MS = 60_000;

/**
 * The service's caps for `streams` open streams from one address (the bench's), on top of the bench's settings.
 * MAX_CONNECTIONS keeps the streams and the writes' connections under three quarters of it: above that the service
 * is under pressure (src/http/connections.ts) and closes connections idle for a second, which includes a stream
 * whose request it has accepted but not read yet on a busy machine (with `streams + 1000`, one run in three failed
 * so while opening 10,000).
 */
export function sseServiceEnv(streams: number): Record<string, string> {
  return {
    MAX_CONNECTIONS: String(Math.ceil((streams + 1000) / 0.75)),
    MAX_CONNECTIONS_PER_IP: '0',
    LIVE_MAX_STREAMS: String(streams),
  };
}

interface Stream {
  user: string;
  token: string;
  /** Resolves the waiter for an event with this id. */
  waiters: Map<string, (at: number) => void>;
  lastId: string | null;
  request: http.ClientRequest | null;
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round1 = (n: number) => Number(n.toFixed(1));
const mb = (bytes: number) => Math.round(bytes / (1024 * 1024));

function openStream(port: number, apiKey: string, stream: Stream, seen: { heartbeats: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream ${stream.user}: no first event within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
    const req = http.get(
      { host: '127.0.0.1', port, path: `/v2/baskets/users/${stream.user}/events`, agent: false, headers: { 'x-api-key': apiKey, authorization: `Bearer ${stream.token}` } },
      (res) => {
        if (res.statusCode !== 200) {
          clearTimeout(timer);
          reject(new Error(`stream ${stream.user}: HTTP ${res.statusCode}`));
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
            if (id === undefined) {
              if (block.startsWith(':')) seen.heartbeats++;
              continue;
            }
            stream.lastId = id;
            stream.waiters.get(id)?.(at);
            stream.waiters.delete(id);
            if (first) {
              first = false;
              clearTimeout(timer);
              resolve();
            }
          }
        });
        res.on('error', () => undefined); // closed by the end of the run; a missing event is counted as missed
      },
    );
    stream.request = req;
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`stream ${stream.user} while opening: ${err.message}`));
    });
  });
}

function assign(port: number, agent: http.Agent, apiKey: string, s: Stream, productId: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/v2/baskets/users/${s.user}/products/${productId}`,
        agent,
        headers: { 'x-api-key': apiKey, authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(`{"count":${count}}`);
  });
}

/** One run on a fresh service: opens the streams, sends the writes, stops the service. */
export async function runSseBench(o: SseOptions): Promise<SseResult> {
  const key = new TextEncoder().encode(o.secret);
  const exp = Math.floor(Date.now() / 1000) + 7200;
  const streams: Stream[] = [];
  for (let i = 0; i < o.streams; i++) {
    const user = `sse-${i}`;
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime(exp).sign(key);
    streams.push({ user, token, waiters: new Map(), lastId: null, request: null });
  }
  const { child, port } = await o.start(sseServiceEnv(o.streams));
  const pid = child.pid!;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const rssBefore = mb(treeRss(pid));
    const openStart = performance.now();
    let opened = 0;
    const seen = { heartbeats: 0 };
    for (let i = 0; i < streams.length; i += OPEN_BATCH) {
      await Promise.all(streams.slice(i, i + OPEN_BATCH).map((s) => openStream(port, o.apiKey, s, seen).then(() => void opened++)));
    }
    const openMs = performance.now() - openStart;
    const rssOpen = mb(treeRss(pid));
    o.log(`sse: ${opened} streams open in ${Math.round(openMs)} ms; service RSS ${rssBefore} MB → ${rssOpen} MB`);

    const toEvent: number[] = [];
    const toAnswer: number[] = [];
    const answerToEvent: number[] = [];
    let missed = 0;
    let writeErrors = 0;
    const pending: Promise<void>[] = [];
    const gapMs = 1000 / o.rate;
    const cpuBefore = treeCpu(pid);
    const heartbeatsBefore = seen.heartbeats;
    const startAll = performance.now();
    for (let w = 0; w < o.writes; w++) {
      const due = startAll + w * gapMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const s = streams[Math.floor(Math.random() * streams.length)]!;
      if (s.waiters.size > 0) continue; // that user's previous write is still on its way
      // every write bumps the basket's version, which is the event's id
      const next = String(Number(s.lastId ?? 0) + 1);
      const t0 = performance.now();
      const event = new Promise<number>((resolve) => s.waiters.set(next, resolve));
      pending.push(
        (async () => {
          // a connection error counts as a refused write, like a non-200 answer
          const status = await assign(port, agent, o.apiKey, s, o.products[w % o.products.length]!, 1 + (w % 3)).catch(() => 0);
          const answered = performance.now();
          if (status !== 200) {
            writeErrors++;
            s.waiters.delete(next);
            return;
          }
          toAnswer.push(answered - t0);
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), MISS_MS)));
          const at = await Promise.race([event, timeout]);
          clearTimeout(timer);
          if (at === null) {
            missed++;
            s.waiters.delete(next);
          } else {
            toEvent.push(at - t0);
            answerToEvent.push(at - answered);
          }
        })(),
      );
    }
    await Promise.all(pending);
    const writeSeconds = (performance.now() - startAll) / 1000;
    const serverCpu = treeCpu(pid) - cpuBefore;
    const heartbeatsDuringWrites = seen.heartbeats - heartbeatsBefore;
    if (writeErrors > 0) o.log(`sse: ${writeErrors} writes failed or answered other than 200`);
    for (const list of [toEvent, toAnswer, answerToEvent]) list.sort((a, b) => a - b);
    return {
      streams: o.streams,
      opened,
      writes: toEvent.length + missed,
      writeErrors,
      missed,
      openMs: Math.round(openMs),
      writeToEventMs: { p50: round1(pct(toEvent, 50)), p99: round1(pct(toEvent, 99)), max: round1(toEvent.at(-1) ?? NaN) },
      writeAnswerMs: { p50: round1(pct(toAnswer, 50)), p99: round1(pct(toAnswer, 99)) },
      answerToEventMs: { p50: round1(pct(answerToEvent, 50)), p99: round1(pct(answerToEvent, 99)) },
      rssMb: { before: rssBefore, streamsOpen: rssOpen, end: mb(treeRss(pid)) },
      serverCoresDuringWrites: writeSeconds > 0 ? Number((serverCpu / writeSeconds).toFixed(2)) : 0,
      heartbeatsDuringWrites,
    };
  } finally {
    for (const s of streams) s.request?.destroy();
    agent.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')));
    }
  }
}
