#!/usr/bin/env node
// Compiles src/ into dist/ only when the sources changed since the last build (`npm start`'s prestart).
//   node scripts/build-if-changed.mjs          build when src/** or the tsconfig files differ from dist/'s stamp
//   node scripts/build-if-changed.mjs --force  always build (`npm run build`)
// The stamp (dist/.build-stamp) is a SHA-256 of the inputs' paths and contents, not their mtimes: a fresh clone,
// `cp` or `git checkout` changes mtimes without changing the code. Without TypeScript (a production install,
// `npm ci --omit=dev` / `npm prune --omit=dev`) an existing dist/ is started as it is; no dist/ then is an error.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const stampFile = path.join(dist, '.build-stamp');
const force = process.argv.includes('--force');

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

/** Every file under dir, relative to root, sorted (the hash must not depend on readdir's order). */
function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else out.push(path.relative(root, full));
  }
  return out;
}

/** The hash of the build's inputs; null when there is no src/ (an image that ships dist/ only). */
function inputsHash() {
  if (!existsSync(path.join(root, 'src'))) return null;
  const files = [...walk(path.join(root, 'src'), []), 'tsconfig.json', 'tsconfig.build.json'].sort();
  const hash = createHash('sha256');
  for (const f of files) {
    // path and content, each with its length, so that no two different trees hash alike
    const content = existsSync(path.join(root, f)) ? readFileSync(path.join(root, f)) : Buffer.alloc(0);
    hash.update(`${f.split(path.sep).join('/')}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex');
}

function readStamp() {
  try {
    return readFileSync(stampFile, 'utf8').trim();
  } catch {
    return null;
  }
}

function findTsc() {
  try {
    return createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

const built = existsSync(path.join(dist, 'main.js'));
const hash = inputsHash();
if (!force && built && (hash === null || hash === readStamp())) process.exit(0);

const tsc = findTsc();
if (!tsc) {
  if (force) fail('TypeScript is not installed: run `npm ci` (with the dev dependencies) before `npm run build`');
  if (!built) fail('dist/ is missing and TypeScript is not installed: build with `npm ci && npm run build` first, then prune');
  console.error('build: the sources differ from dist/, but TypeScript is not installed (production install): starting the existing build');
  process.exit(0);
}

if (!force) console.error(built ? 'build: sources changed, compiling…' : 'build: no build yet, compiling…');
// a clean build: files of sources that were moved or deleted must not linger in dist/
rmSync(dist, { recursive: true, force: true });
const res = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (res.status !== 0) fail(`tsc failed (exit ${res.status ?? res.signal})`);
if (hash !== null) writeFileSync(stampFile, `${hash}\n`);
