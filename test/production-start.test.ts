/**
 * The production start (issue 21): `npm start` compiles only when the sources changed
 * (scripts/build-if-changed.mjs), and a build pruned of its dev dependencies starts and answers /healthz.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const repo = process.cwd();
const tmp = mkdtempSync(path.join(tmpdir(), 'basket-start-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function node(cwd: string, args: string[]) {
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 120_000 });
}

describe('scripts/build-if-changed.mjs', () => {
  // a one-file project: the script's decisions are tested without the cost of compiling the service
  const dir = path.join(tmp, 'tiny');
  const build = (...args: string[]) => node(dir, ['scripts/build-if-changed.mjs', ...args]);
  const main = path.join(dir, 'dist', 'main.js');
  mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  mkdirSync(path.join(dir, 'src'));
  cpSync(path.join(repo, 'scripts', 'build-if-changed.mjs'), path.join(dir, 'scripts', 'build-if-changed.mjs'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'tiny', type: 'module', private: true }));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    // noLib and a few stand-in globals: tsc then starts in ~0.4 s instead of ~3 s parsing the standard library
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [], noLib: true, outDir: 'dist' } }),
  );
  const globals = ['Array<T> { length: number; [n: number]: T }', 'Boolean {}', 'CallableFunction {}', 'Function {}', 'IArguments {}', 'NewableFunction {}', 'Number {}', 'Object {}', 'RegExp {}', 'String {}'];
  writeFileSync(path.join(dir, 'src', 'globals.d.ts'), globals.map((g) => `interface ${g}\n`).join(''));
  writeFileSync(path.join(dir, 'tsconfig.build.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { rootDir: 'src' }, include: ['src'] }));
  writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const answer: number = 1;\n');
  writeFileSync(path.join(dir, 'src', 'extra.ts'), 'export const extra = 2;\n');
  const modules = path.join(dir, 'node_modules');
  symlinkSync(path.join(repo, 'node_modules'), modules, 'dir');

  it('builds when there is no build, then not again until a source changes', () => {
    let res = build();
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stderr, /no build yet, compiling/);
    assert.match(readFileSync(main, 'utf8'), /answer = 1/);
    assert.match(readFileSync(path.join(dir, 'dist', '.build-stamp'), 'utf8'), /^[0-9a-f]{64}\n$/);
    const builtAt = statSync(main).mtimeMs;

    // unchanged sources, even with new mtimes (a checkout, a copy): nothing is compiled, nothing is said
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const answer: number = 1;\n');
    res = build();
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr, '');
    assert.equal(statSync(main).mtimeMs, builtAt);

    // a changed source is compiled; a deleted one leaves nothing behind in dist/
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const answer: number = 2;\n');
    rmSync(path.join(dir, 'src', 'extra.ts'));
    res = build();
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stderr, /sources changed, compiling/);
    assert.match(readFileSync(main, 'utf8'), /answer = 2/);
    assert.equal(existsSync(path.join(dir, 'dist', 'extra.js')), false);

    // a tsconfig counts as a source
    writeFileSync(path.join(dir, 'tsconfig.build.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { rootDir: 'src', removeComments: true }, include: ['src'] }));
    assert.match(build().stderr, /sources changed/);
    assert.equal(build().stderr, '');
  });

  it('--force always builds; a compile error stops the start', () => {
    let res = build('--force');
    assert.equal(res.status, 0, res.stderr);
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const answer: number = "two";\n');
    res = build();
    assert.equal(res.status, 1);
    assert.match(res.stderr, /build: tsc failed/);
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const answer: number = 3;\n');
    assert.equal(build().status, 0);
  });

  it('without TypeScript: starts an existing build, and says what to do without one', () => {
    rmSync(modules);
    try {
      let res = build();
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stderr, '', 'an up-to-date build starts silently');
      writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const answer: number = 4;\n');
      res = build();
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stderr, /^build: the sources differ from dist\/, but TypeScript is not installed \(production install\): starting the existing build\n$/);
      res = build('--force');
      assert.equal(res.status, 1);
      assert.match(res.stderr, /TypeScript is not installed/);
      rmSync(path.join(dir, 'dist'), { recursive: true });
      res = build();
      assert.equal(res.status, 1);
      assert.match(res.stderr, /^build: dist\/ is missing and TypeScript is not installed/);
    } finally {
      symlinkSync(path.join(repo, 'node_modules'), modules, 'dir');
    }
  });
});

/** Starts a command in its own process group; resolves with the port from the service's banner. */
function startService(cwd: string, cmd: string, args: string[], env: Record<string, string>) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = new Promise<number>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      const m = /basket listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} exited (${code}) before listening:\n${output}`)));
  });
  // the whole group: `npm start` runs node as its child
  const stop = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return { port, stop, output: () => output };
}

describe('production install: scripts/build-production.sh (npm run build && npm prune --omit=dev), then node dist/main.js', () => {
  it('starts from the pruned copy and answers /healthz, with node and with npm start', async () => {
    // a copy of the project with a copy of its node_modules (copied, not reinstalled: fast and offline)
    const app = path.join(tmp, 'app');
    mkdirSync(app);
    // not through git: CI's Node.js 24 run works in a plain copy of the checkout
    for (const name of readdirSync(repo).filter((n) => !['.git', 'node_modules', 'dist', 'data', '.tmp'].includes(n))) {
      cpSync(path.join(repo, name), path.join(app, name), { recursive: true, verbatimSymlinks: true });
    }
    cpSync(path.join(repo, 'node_modules'), path.join(app, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    // the Dockerfile's build step
    const res = spawnSync('bash', ['scripts/build-production.sh'], { cwd: app, encoding: 'utf8', timeout: 180_000 });
    assert.equal(res.status, 0, res.stdout + res.stderr);
    assert.equal(existsSync(path.join(app, 'node_modules', 'typescript')), false, 'pruned: no TypeScript');
    assert.equal(existsSync(path.join(app, 'node_modules', 'tsx')), false, 'pruned: no tsx');

    const env = {
      NODE_ENV: 'production',
      PORT: '0',
      DATA_DIR: path.join(tmp, 'data'),
      PARTNERS_JSON: JSON.stringify([{ id: 'p1', apiKeys: ['key-0000001'], jwt: { secret: 'a-secret-of-16-chars!' }, psps: ['sandbox'] }]),
    };
    for (const [cmd, args] of [
      [process.execPath, ['dist/main.js']],
      ['npm', ['start']],
    ] as const) {
      const svc = startService(app, cmd, [...args], env);
      try {
        const port = await svc.port;
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        assert.equal(health.status, 200);
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        assert.equal(ready.status, 200);
        assert.doesNotMatch(svc.output(), /compiling|TypeScript is not installed/, `${cmd}: nothing compiled, nothing to warn about`);
      } finally {
        svc.stop();
      }
    }
  });
});
