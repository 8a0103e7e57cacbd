/**
 * Starts a real 3-master Redis Cluster on free loopback ports (redis-server child processes, no persistence,
 * files in a temp dir) and stops it again. stop() kills the processes and removes the directory; the processes
 * are also killed when the test process exits, so a failing test leaves nothing behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface TestCluster {
  ports: number[];
  /** redis-cluster://127.0.0.1:A,127.0.0.1:B,127.0.0.1:C */
  url: string;
  stop(): Promise<void>;
}

/** Cluster nodes also listen on port + 10000 (the bus), so both must be free. */
async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  // Random start within 20000-29999 (bus ports 30000-39999), then walk until enough pairs are free.
  let port = 20000 + Math.floor(Math.random() * 9000);
  while (ports.length < count && port < 30000) {
    if ((await isFree(port)) && (await isFree(port + 10000))) ports.push(port);
    port++;
  }
  if (ports.length < count) throw new Error('no free ports for the test cluster');
  return ports;
}

function redisCli(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`test cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRedisCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'basket-redis-cluster-'));
  const children: ChildProcess[] = [];
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killAll);
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = await freePorts(3);
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
          '--dir', dir,
          '--save', '',
          '--appendonly', 'no',
          '--daemonize', 'no',
          '--logfile', path.join(dir, `redis-${port}.log`),
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
    }
    for (const port of ports) {
      await waitFor(() => redisCli(['-p', String(port), 'ping']).out.trim() === 'PONG', `node ${port}`);
    }
    const created = redisCli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.out}`);
    for (const port of ports) {
      await waitFor(() => redisCli(['-p', String(port), 'cluster', 'info']).out.includes('cluster_state:ok'), `cluster_state:ok on ${port}`);
    }
    return { ports, url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
