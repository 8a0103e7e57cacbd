/**
 * `WORKERS=n` (node:cluster): the primary forks n server processes that share one port and one store, and the
 * cart limit holds across them; SIGTERM to the primary drains the workers, then the primary exits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { startServerProcess, stopProcesses } from './helpers/server-process.js';
import http from 'node:http';
import { parsePrometheusText } from './metrics/prometheus-text.js';

const SECRET = 'cluster-secret-0123456789abcdef';
const PARTNERS = [{ id: 'cl', apiKeys: ['cluster-api-key-1'], jwt: { secret: SECRET } }];

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('WORKERS=2 (node:cluster)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-cluster-'));
  let primary: ChildProcess;
  let port = 0;

  before(async () => {
    ({ child: primary, port } = await startServerProcess({ WORKERS: '2', DATA_DIR: dataDir, PARTNERS_JSON: JSON.stringify(PARTNERS) }));
  });

  after(async () => {
    await stopProcesses([primary]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs two server processes that serve one port and keep the cart limit between them', async () => {
    // both workers are up once each has listened; the primary's children are the workers
    for (let i = 0; i < 100 && childPids(primary.pid!).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(childPids(primary.pid!).length, 2, 'two worker processes');

    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('cu').setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));
    const headers = { 'x-api-key': 'cluster-api-key-1', authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        fetch(`http://127.0.0.1:${port}/v2/baskets/users/cu/products/c${i}`, { method: 'POST', headers, body: '{"count":1}' }).then(async (r) => ({ id: `c${i}`, status: r.status })),
      ),
    );
    const ok = results.filter((r) => r.status === 200).map((r) => r.id);
    assert.equal(ok.length, 20);
    assert.equal(results.filter((r) => r.status === 422).length, 40);
    const basket = (await (await fetch(`http://127.0.0.1:${port}/v2/baskets/users/cu`, { headers })).json()) as { data: { cart: { productId: string }[] } };
    assert.deepEqual(basket.data.cart.map((l) => l.productId).sort(), ok.sort());
  });

  it('GET /metrics answers the sum over both workers, whichever worker it lands on', async () => {
    // each request on a connection of its own: the primary hands connections to the workers in turn
    const get = (url: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: url, agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
    const N = 10;
    for (let i = 0; i < N; i++) assert.equal((await get('/healthz')).status, 200);
    const healthz = { route: '/healthz', method: 'GET', status: '200' };
    for (let i = 0; i < 4; i++) {
      const res = await get('/metrics');
      assert.equal(res.status, 200, res.body);
      const m = parsePrometheusText(res.body);
      assert.equal(m.value('basket_metrics_processes'), 2, 'both workers answered');
      assert.equal(m.value('basket_http_request_duration_seconds_count', healthz), N, 'requests served by either worker are counted');
      assert.ok(m.value('process_resident_memory_bytes') > 0);
    }
  });

  it('SIGTERM: the primary forwards it to its workers and exits 0 once they have', async () => {
    const workers = childPids(primary.pid!);
    assert.equal(workers.length, 2);
    const exit = new Promise<[number | null, string | null]>((resolve) => primary.once('exit', (code, signal) => resolve([code, signal])));
    primary.kill('SIGTERM');
    assert.deepEqual(await exit, [0, null]);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.deepEqual(workers.filter(alive), [], 'no worker outlives the primary');
  });
});
