/**
 * Proves `npm run bench` still works: a tiny run of every scenario (and of the opt-in ones), checked for errors and
 * non-2xx answers.
 * It never asserts a speed; the figures belong to docs/performance.md.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/open.js';
import type { ShopBasket } from '../../src/domain/shop/records.js';
import type { ShopKeyset } from '../../src/store/interface/shop.js';
import type { SseResult } from '../../bench/sse.js';

interface Report {
  settings: { repeat: number; sse: { streams: number; writes: number; rate: number } | null };
  summary?: { scenario: string; repetitions: number; requestsPerSec: { median: number; min: number; max: number }; ratioToCeiling: { median: number } | null }[];
  results: {
    scenario: string;
    repetition: number;
    requestsPerSec: number;
    ceilingRequestsPerSec: number | null;
    ratioToCeiling: number | null;
    ceilingDrift: number | null;
    requests: number;
    non2xx: number;
    errors: number;
    statusCodes: Record<string, number>;
    peakRssMb: number;
    attack?: { connections: number; connects: number; servicePeakFds: number; serviceAlive: boolean; healthAfter: number | null };
  }[];
  sse?: (SseResult & { repetition: number; error?: string })[];
}

/**
 * Runs a small bench (`--smoke`, 1 s per scenario, no warm-up unless `args` say otherwise, 300 device and 300 shop
 * baskets) that must succeed.
 */
function smokeBench(args: string[]): { stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--duration', '1', '--warmup', '0', '--baskets', '300', '--shop-baskets', '300', '--connections', '4', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(res.status, 0, `bench failed:\n${res.stderr}\n${res.stdout}`);
  return res;
}

describe('bench smoke run', () => {
  it('runs every scenario without errors', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-bench-smoke-'));
    const out = path.join(dir, 'bench.json');
    try {
      // the ceiling once: its runs around each scenario and their arithmetic are checked in the --repeat test
      const res = smokeBench(['--users', '100', '--ceiling', 'once', '--json', out]);
      const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
      const names = report.results.map((r) => r.scenario);
      const scenarios = ['get', 'assign', 'assign-tracked', 'mixed', 'guest', 'guest-add', 'guest-journey', 'transfer', 'transfer-qr', 'checkout'];
      scenarios.push('shop-token', 'shop-initiate', 'shop-update', 'shop-abandoned');
      assert.deepEqual(names, ['ceiling', ...scenarios]);
      for (const r of report.results) {
        assert.ok(r.requests > 0, `${r.scenario} sent requests`);
        assert.equal(r.errors, 0, `${r.scenario} connection errors`);
        assert.equal(r.non2xx, 0, `${r.scenario} non-2xx: ${JSON.stringify(r.statusCodes)}`);
        assert.ok(r.peakRssMb > 0, `${r.scenario} measured memory`);
      }
      assert.match(res.stdout, /scenario\s+req\/s\s+ceiling req\/s\s+ceiling drift\s+x ceiling/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has every one of assign's requests written to its basket", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-bench-assign-'));
    const out = path.join(dir, 'bench.json');
    const file = path.join(dir, 'basket.db');
    const users = 100;
    try {
      // a store of our own, which the bench leaves in place, and no warm-up: every write is one the report counts.
      // 3 s, not 1: a cold service spends its first second compiling, and this check needs several writes per user
      smokeBench(['--scenarios', 'assign', '--ceiling', 'once', '--users', String(users), '--store-url', `sqlite:${file}`, '--json', out, '--duration', '3']);
      const assign = (JSON.parse(readFileSync(out, 'utf8')) as Report).results.find((r) => r.scenario === 'assign');
      assert.ok(assign && assign.requests > users * 4, 'assign sent requests');
      const db = new Database(file, { readonly: true });
      try {
        // preloaded baskets start at version 1; each write adds one
        const { writes } = db.prepare<[], { writes: number }>("SELECT sum(version - 1) AS writes FROM baskets WHERE user_id LIKE 'u%'").get()!;
        // a pair's first request may find the count the preloaded basket already has: at most one per user
        assert.ok(writes >= assign.requests - users, `${writes} writes for ${assign.requests} assigns`);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--cart-lines preloads full carts (distinct products, nothing saved at 20), and assign answers on them', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-bench-lines-'));
    const out = path.join(dir, 'bench.json');
    const file = path.join(dir, 'basket.db');
    try {
      smokeBench(['--scenarios', 'assign', '--ceiling', 'once', '--users', '50', '--cart-lines', '20', '--store-url', `sqlite:${file}`, '--json', out]);
      const assign = (JSON.parse(readFileSync(out, 'utf8')) as Report).results.find((r) => r.scenario === 'assign');
      assert.ok(assign && assign.requests > 0 && assign.non2xx === 0, 'assign answered every request with 2xx');
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare<[], { data: string }>("SELECT data FROM baskets WHERE user_id LIKE 'u%'").all();
        assert.equal(rows.length, 300);
        for (const { data } of rows) {
          const state = JSON.parse(data) as { cart: { productId: string }[]; saved: unknown[] };
          assert.equal(new Set(state.cart.map((l) => l.productId)).size, 20);
          assert.deepEqual(state.saved, []);
        }
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shop scenarios: preloaded open and completed baskets over 13 days, every request answered 2xx, cursors followed, targets reported', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-bench-shop-'));
    const out = path.join(dir, 'bench.json');
    const url = `sqlite:${path.join(dir, 'basket.db')}`;
    const started = Date.now();
    try {
      // with a warm-up, so that each scenario's preparation runs twice (fresh baskets for shop-update each time)
      const res = smokeBench(['--scenarios', 'shop-token,shop-initiate,shop-update,shop-abandoned', '--warmup', '1', '--ceiling', 'once', '--store-url', url, '--json', out]);
      const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
      assert.deepEqual(report.results.map((r) => r.scenario), ['ceiling', 'shop-token', 'shop-initiate', 'shop-update', 'shop-abandoned']);
      for (const r of report.results) {
        assert.ok(r.requests > 0, `${r.scenario} sent requests`);
        // shop-update: a quantity or remove naming no item (the add before it failed) would be a 400 here
        assert.equal(r.non2xx + r.errors, 0, `${r.scenario}: ${JSON.stringify(r.statusCodes)}`);
      }
      const pages = /shop-abandoned: (\d+) pages asked for, (\d+) of them through queryMore/.exec(res.stderr);
      assert.ok(pages && Number(pages[2]) > 0, `cursors followed: ${pages?.[0]}`);
      assert.match(res.stdout, /shop-initiate: [\d.]+ of the ceiling, target ≥ 0\.15: (met|NOT met)/);
      assert.match(res.stdout, /shop-abandoned: p99 \d+ ms, target < 20 ms: (met|NOT met) \(the target is at 1,000,000 baskets; this run had 300\)/);

      const store = await openStore(url);
      try {
        const listed: ShopBasket[] = [];
        let after: ShopKeyset | null = null;
        for (;;) {
          const page = await store.shop.listAbandoned({ partnerId: 'bench', createdAfter: 0, after, now: Date.now(), limit: 1000 });
          listed.push(...page);
          if (page.length < 1000) break;
          after = { created: page.at(-1)!.created, id: page.at(-1)!.id };
        }
        const preloaded = listed.filter((b) => b.created < started);
        // one in ten preloaded is completed, so not listed
        assert.equal(preloaded.length, 270);
        const spanDays = (preloaded.at(-1)!.created - preloaded[0]!.created) / 86_400_000;
        assert.ok(spanDays > 12 && spanDays < 13, `created over ${spanDays} days`);
        assert.ok(listed.length > preloaded.length, 'initiate and shop-update made baskets during the run');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--repeat runs everything again on fresh processes and reports the medians', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-bench-repeat-'));
    const out = path.join(dir, 'bench.json');
    try {
      const res = smokeBench(['--scenarios', 'get', '--repeat', '2', '--users', '100', '--json', out]);
      const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
      assert.equal(report.settings.repeat, 2);
      assert.deepEqual(
        report.results.map((r) => `${r.repetition}:${r.scenario}`),
        ['1:ceiling', '1:get', '1:ceiling', '2:ceiling', '2:get', '2:ceiling'],
      );
      for (const r of report.results) assert.equal(r.non2xx + r.errors, 0, `${r.repetition}:${r.scenario} failed requests`);
      // the ceiling is measured before the scenario and again after it; the ratio is to their mean
      for (const i of [1, 4]) {
        const [before, r, after] = [report.results[i - 1]!, report.results[i]!, report.results[i + 1]!];
        const mean = (before.requestsPerSec + after.requestsPerSec) / 2;
        assert.equal(r.ceilingRequestsPerSec, Math.round(mean), `${r.repetition}:${r.scenario}'s ceiling`);
        assert.equal(r.ratioToCeiling, Number((r.requestsPerSec / mean).toFixed(3)));
        assert.equal(r.ceilingDrift, Number((Math.abs(after.requestsPerSec - before.requestsPerSec) / mean).toFixed(3)), `${r.repetition}:${r.scenario}'s ceiling drift`);
      }
      // each repetition started its own service and ceiling
      const pids = [...res.stderr.matchAll(/repetition (\d): service pid (\d+), ceiling pid (\d+)/g)];
      assert.deepEqual(pids.map((m) => m[1]), ['1', '2']);
      assert.equal(new Set(pids.flatMap((m) => [m[2], m[3]])).size, 4, 'four distinct processes');
      const gets = report.results.filter((r) => r.scenario === 'get');
      const get = report.summary?.find((s) => s.scenario === 'get');
      assert.ok(get, 'a summary of get');
      assert.equal(get.repetitions, 2);
      assert.equal(get.requestsPerSec.median, (gets[0]!.requestsPerSec + gets[1]!.requestsPerSec) / 2);
      assert.equal(get.requestsPerSec.min, Math.min(...gets.map((g) => g.requestsPerSec)));
      assert.equal(get.ratioToCeiling?.median, (gets[0]!.ratioToCeiling! + gets[1]!.ratioToCeiling!) / 2);
      assert.equal(report.summary?.find((s) => s.scenario === 'ceiling')?.repetitions, 4);
      assert.match(res.stdout, /summary of 2 repetitions/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('slow-attack holds attacking connections while GETs are measured, and reports the service up and answering', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-bench-attack-'));
    const out = path.join(dir, 'bench.json');
    try {
      const res = smokeBench(['--scenarios', 'slow-attack', '--ceiling', 'once', '--users', '100', '--attack-connections', '300', '--json', out]);
      const attack = (JSON.parse(readFileSync(out, 'utf8')) as Report).results.find((r) => r.scenario === 'slow-attack');
      assert.ok(attack?.attack, 'an attack report');
      assert.equal(attack.attack.connections, 300);
      assert.ok(attack.attack.connects >= 300, `${attack.attack.connects} connects`);
      assert.ok(attack.attack.servicePeakFds > 0, 'the service was sampled');
      assert.deepEqual([attack.attack.serviceAlive, attack.attack.healthAfter], [true, 200]);
      assert.ok(attack.requests > 0, 'normal GETs were answered');
      assert.equal(attack.non2xx + attack.errors, 0, JSON.stringify(attack.statusCodes));
      assert.match(res.stdout, /slow-attack: 300 attacking connections .*service up, \/healthz after: 200/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sse opens its streams on a service of its own, and every write reaches its stream', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-bench-sse-'));
    const out = path.join(dir, 'bench.json');
    try {
      const res = smokeBench(['--scenarios', 'sse', '--sse-streams', '20', '--sse-writes', '20', '--sse-rate', '50', '--json', out]);
      const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
      // named alone: no ceiling, no other scenario
      assert.deepEqual(report.results, []);
      assert.deepEqual(report.settings.sse, { streams: 20, writes: 20, rate: 50 });
      assert.equal(report.sse?.length, 1);
      const sse = report.sse[0]!;
      assert.equal(sse.error, undefined);
      assert.deepEqual([sse.streams, sse.opened], [20, 20]);
      // a write to a user whose previous one is still on its way is skipped, so up to 20
      assert.ok(sse.writes >= 10 && sse.writes <= 20, `${sse.writes} writes`);
      assert.deepEqual([sse.missed, sse.writeErrors], [0, 0]);
      assert.ok(sse.writeToEventMs.p50 > 0 && sse.writeToEventMs.p99 >= sse.writeToEventMs.p50, JSON.stringify(sse.writeToEventMs));
      assert.ok(sse.rssMb.streamsOpen > 0, 'the service was sampled');
      assert.match(res.stderr, /repetition 1: sse service pid \d+/);
      assert.doesNotMatch(res.stderr, /ceiling pid/);
      assert.match(res.stdout, /sse: 20 open change streams/);
      assert.match(res.stdout, /\n1\s+20\/20\s/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
