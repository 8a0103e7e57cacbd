#!/usr/bin/env node
// Runs the tests with Node's own test runner (TypeScript through tsx).
//   npm test                  every test/**/*.test.ts on SQLite, and the HTTP suite (test/http) again on PostgreSQL
//                             and on Redis (TEST_STORE), so the whole service is proven on every store
//   npm test -- test/domain   only the files under the given paths, on TEST_STORE (default sqlite)
//
// Every (file, store) pair is one process running the file under Node's test runner, and TEST_CONCURRENCY (default 2) of them run at once
// from one queue, the known long files first: the three stores' runs share the machine instead of waiting for each
// other, and no long file starts last with the rest of the queue already done. A file's output is printed whole
// when it ends; the last line is `N passed, N failed`.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) collect(full, out);
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

function files(roots) {
  return roots.flatMap((r) => (statSync(r).isDirectory() ? collect(r, []) : [r])).sort();
}

/**
 * Rough seconds of the long runs on a quiet 2-core VM (measured 2026-12-07), to start them first; every other run
 * counts as short. Only the order depends on these: a wrong figure costs time, never a result.
 */
const LONG = {
  'test/bench/smoke.test.ts': 120,
  'test/multiprocess/postgres.test.ts': 40,
  'test/multiprocess/redis.test.ts': 40,
  'test/multiprocess/live.test.ts': 50,
  'test/production-start.test.ts': 30,
  'test/browser/landing.test.ts': 30,
  'test/browser/demo-shop.test.ts': 30,
  'test/main.test.ts': 30,
  'test/store/sqlite/sqlite.test.ts': 25,
  'test/scripts.test.ts': 25,
  'test/store/outage.test.ts': 15,
  'test/http/concurrency.test.ts': 15,
  'test/http/edge-connections.test.ts': 15,
  'test/http/crash.test.ts': 15,
  'test/http/rate-limits.test.ts': 15,
  'test/http/checkout-concurrency.test.ts': 10,
};
const weight = (file) => LONG[file.split(path.sep).join('/')] ?? 1;

const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`TEST_CONCURRENCY=${process.env.TEST_CONCURRENCY}: use a whole number from 1`);
  process.exit(2);
}

/** One file on one store: its output, and its counts read from the runner's closing lines. */
function runOne({ file, store }) {
  return new Promise((resolve) => {
    // the file itself, not `--test <file>`: the runner would only start it as a second process
    const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=spec', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'test', TEST_STORE: store },
    });
    const chunks = [];
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    const started = Date.now();
    child.on('close', (code, signal) => {
      const out = Buffer.concat(chunks).toString();
      const count = (name) => Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
      const fail = count('fail') + count('cancelled');
      // a run that exits non-zero with no failed test (a crash before any test, a bad import) counts as one failure
      const crashed = (code !== 0 || signal !== null) && fail === 0 ? 1 : 0;
      resolve({ file, store, out, pass: count('pass'), fail: fail + crashed, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const roots = process.argv.slice(2);
const jobs = roots.length
  ? files(roots).map((file) => ({ file, store: process.env.TEST_STORE ?? 'sqlite' }))
  : [
      ...files(['test']).map((file) => ({ file, store: 'sqlite' })),
      ...files(['test/http']).flatMap((file) => [
        { file, store: 'postgres' },
        { file, store: 'redis' },
      ]),
    ];
if (jobs.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// longest first; equal weights keep the listed order (sort is stable)
const queue = [...jobs].sort((a, b) => weight(b.file) - weight(a.file));
console.log(`=== ${jobs.length} test run(s) of ${new Set(jobs.map((j) => j.file)).size} file(s), ${concurrency} at a time`);

const results = [];
async function worker() {
  for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
    const r = await runOne(job);
    results.push(r);
    process.stdout.write(`\n=== ${r.file} (store ${r.store}): ${r.pass} passed, ${r.fail} failed, ${r.seconds.toFixed(1)} s\n${r.out}`);
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));

const failed = results.filter((r) => r.fail > 0);
if (failed.length > 0) {
  console.log(`\n=== failed: ${failed.length} run(s)`);
  for (const r of failed) console.log(`  ${r.file} (store ${r.store}): ${r.fail} failed`);
}
const pass = results.reduce((n, r) => n + r.pass, 0);
const fail = results.reduce((n, r) => n + r.fail, 0);
console.log(`\n${pass} passed, ${fail} failed`);
process.exit(fail === 0 ? 0 : 1);
