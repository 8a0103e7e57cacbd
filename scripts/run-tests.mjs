#!/usr/bin/env node
// Runs the tests with Node's own test runner (TypeScript through tsx).
//   npm test                  every test/**/*.test.ts on SQLite, then the HTTP suite again on PostgreSQL and on
//                             Redis (TEST_STORE), so the whole service is proven on every store
//   npm test -- test/domain   only the files under the given paths, on TEST_STORE (default sqlite)
import { spawnSync } from 'node:child_process';
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

/** One run of the test runner; returns its pass/fail counts, read from the runner's closing lines. */
function run(label, list, store) {
  if (list.length === 0) {
    console.error(`${label}: no test files found`);
    return { ok: false, pass: 0, fail: 1 };
  }
  console.log(`\n=== ${label}: ${list.length} file(s), store ${store}`);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...list],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'test', TEST_STORE: store }, maxBuffer: 256 * 1024 * 1024 },
  );
  const out = result.stdout.toString();
  process.stdout.write(out);
  const count = (name) => Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
  const fail = count('fail') + count('cancelled');
  return { ok: result.status === 0 && fail === 0, pass: count('pass'), fail: fail + (result.status === 0 ? 0 : fail === 0 ? 1 : 0) };
}

const roots = process.argv.slice(2);
const runs = roots.length
  ? [run('tests', files(roots), process.env.TEST_STORE ?? 'sqlite')]
  : [
      run('all tests', files(['test']), 'sqlite'),
      run('HTTP suite', files(['test/http']), 'postgres'),
      run('HTTP suite', files(['test/http']), 'redis'),
    ];

const pass = runs.reduce((n, r) => n + r.pass, 0);
const fail = runs.reduce((n, r) => n + r.fail, 0);
console.log(`\n${pass} passed, ${fail} failed`);
process.exit(runs.every((r) => r.ok) ? 0 : 1);
