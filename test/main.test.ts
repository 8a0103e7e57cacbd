/**
 * The real process (`src/main.ts`): with PORT=0 every link carries the port actually bound; SIGTERM drains (a
 * request in flight finishes with its normal answer, then exit 0) within SHUTDOWN_TIMEOUT, past which the process
 * exits anyway with 1.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { DEV_PARTNER } from '../src/config.js';
import { startServerProcess, stopProcesses, type ServerProcess } from './helpers/server-process.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  await stopProcesses(children);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}): Promise<ServerProcess & { output: () => string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-main-'));
  dirs.push(dataDir);
  const server = await startServerProcess({ DATA_DIR: dataDir, DEV_PARTNER: 'true', ...env });
  children.push(server.child);
  let out = '';
  server.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { ...server, output: () => out };
}

const demoToken = (user: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuer(DEV_PARTNER.jwt.issuer!)
    .setAudience(DEV_PARTNER.jwt.audience!)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(DEV_PARTNER.jwt.secret));

/** The process's exit; one still running after `withinMs` is killed (SIGKILL) and reported as such. */
function exited(child: ChildProcess, withinMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  const timer = setTimeout(() => child.kill('SIGKILL'), withinMs);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    }),
  );
}

/** `p`, or a rejection naming `what` after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A raw keep-alive connection: a complete first request proves it was accepted before anything else happens. */
async function openConnection(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  for (let i = 0; i < 200 && !/\r\n\r\n[^]*\}/.test(data); i++) await new Promise((r) => setTimeout(r, 25));
  assert.match(data, /^HTTP\/1\.1 200 /);
  data = '';
  return { socket, received: () => data, closed };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PORT=0 without PUBLIC_URL: links carry the bound port', () => {
  it('banner, OpenAPI server, transfer URL (the development landing page) and QR image URL', async () => {
    const s = await start();
    const base = `http://127.0.0.1:${s.port}`;
    assert.ok(s.port > 0);
    assert.match(s.banner, new RegExp(`OpenAPI: ${base}/openapi\\.json   docs: ${base}/docs`));
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as { servers: { url: string }[] };
    assert.deepEqual(openapi.servers, [{ url: base }]);

    const headers = { 'x-api-key': DEV_PARTNER.apiKeys[0]!, authorization: `Bearer ${await demoToken('pu1')}`, 'content-type': 'application/json' };
    assert.equal((await fetch(`${base}/v2/baskets/users/pu1/products/prod-123`, { method: 'POST', headers, body: '{"count":1}' })).status, 200);
    const res = await fetch(`${base}/v2/baskets/users/pu1/transfer?qr=true`, { method: 'POST', headers, body: '{}' });
    assert.equal(res.status, 200);
    const d = ((await res.json()) as { data: { url: string; jayToken: string; qrCodeImageUrl: string } }).data;
    assert.equal(d.url, `${base}/landing?jaySource=demo-tv&jayToken=${d.jayToken}`);
    assert.equal(d.qrCodeImageUrl, `${base}/baskets/transfers/${d.jayToken}/qr.png`);
    // and they work
    const png = await fetch(d.qrCodeImageUrl);
    assert.equal(png.status, 200);
    assert.equal(png.headers.get('content-type'), 'image/png');
    assert.equal((await fetch(d.url)).status, 200);
  });
});

describe('demo shop data', () => {
  it('is loaded at start for the development partner, and a restart on the same data loads it again without error', async () => {
    const first = await start();
    const admin = { 'x-admin-key': 'dev-admin-key' };
    const read = async (port: number, what: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/admin/${what}?partner=demo`, { headers: admin });
      return { status: res.status, data: ((await res.json()) as { data: Record<string, unknown> }).data };
    };
    assert.equal((await read(first.port, 'offers/streaming-basic-monthly')).data.version, 'v1');
    const pending = await read(first.port, 'subscriptions/sub-demo-pending');
    assert.ok(Date.parse((pending.data.pendingChange as { effective: string }).effective) > Date.now(), 'the pending change lies ahead');
    first.child.kill('SIGTERM');
    assert.equal((await exited(first.child)).code, 0);
    const dataDir = dirs.at(-1)!;
    const second = await start({ DATA_DIR: dataDir });
    assert.deepEqual((await read(second.port, 'subscriptions/sub-demo-pending')).data, pending.data);
    assert.equal((await read(second.port, 'offers/offer-prod-123')).status, 200);
  });
});

describe('SIGTERM', () => {
  it('drains: a request in flight finishes with its normal answer, new connections are refused, exit 0', async () => {
    const s = await start();
    const conn = await openConnection(s.port);
    const body = JSON.stringify({ products: [{ productId: 'prod-123', count: 2 }] });
    // the headers and half of the body now; the rest only after SIGTERM
    conn.socket.write(
      `POST /v2/baskets/guests HTTP/1.1\r\nHost: x\r\nX-API-Key: ${DEV_PARTNER.apiKeys[0]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await sleep(300);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const exit = exited(s.child);
    await sleep(500);
    assert.equal(s.child.exitCode, null, 'still running while the request is in flight');
    assert.equal(await refused(s.port), true, 'no new connections');
    conn.socket.write(body.slice(10));
    await within(conn.closed, 15_000, 'the server closing the answered connection'); // answered, then closed as idle
    const answer = conn.received();
    assert.match(answer, /^HTTP\/1\.1 200 /, answer);
    const json = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { data: { userId: string; basket: { cart: unknown[] } }; error: unknown };
    assert.equal(json.error, null);
    assert.match(json.data.userId, /^guest-/);
    assert.deepEqual(json.data.basket.cart, [{ productId: 'prod-123', count: 2 }]);
    assert.deepEqual(await exit, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 10_000, 'within SHUTDOWN_TIMEOUT (10 s)');
  });

  it('past SHUTDOWN_TIMEOUT the process exits anyway, with 1, and says so', async () => {
    const s = await start({ SHUTDOWN_TIMEOUT: '1s' });
    const conn = await openConnection(s.port);
    // a body that never completes
    conn.socket.write(`POST /v2/baskets/guests HTTP/1.1\r\nHost: x\r\nX-API-Key: ${DEV_PARTNER.apiKeys[0]}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    await sleep(300);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    assert.deepEqual(await exited(s.child), { code: 1, signal: null });
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 8_000, `exited after ${took} ms`);
    assert.match(s.output(), /shutdown timed out \(SHUTDOWN_TIMEOUT\)/);
    conn.socket.destroy();
  });
});
