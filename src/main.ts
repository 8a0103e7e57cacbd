/**
 * Entry point: validated configuration, then one server process, or WORKERS processes sharing the port
 * (node:cluster) and the store.
 */
import cluster, { type Worker } from 'node:cluster';
import { ConfigError, loadConfig, localBaseUrl, DEV_ADMIN_KEY, DEV_SHOP_CLIENT, type Config } from './config.js';
import { answerWorkersMetrics } from './metrics/cluster.js';

function banner(config: Config, address: string, publicUrl: string): string {
  const lines = [`basket listening on ${address} (store: ${config.storeUrl.replace(/\/\/[^@/]*@/, '//***@')})`];
  lines.push(`  OpenAPI: ${publicUrl}/openapi.json   docs: ${publicUrl}/docs`);
  if (config.devPartner) {
    lines.push('  development partner "demo": X-API-Key dev-api-key');
    lines.push('  mint a user token:  TOKEN=$(npm run -s token -- --user u1)');
    lines.push(`  shop client (OAuth): ${DEV_SHOP_CLIENT.id} / ${DEV_SHOP_CLIENT.secret}  at POST ${publicUrl}/oauth2/token`);
    if (config.adminKey === DEV_ADMIN_KEY) lines.push(`  admin key (development): ${DEV_ADMIN_KEY}`);
  }
  return lines.join('\n');
}

async function runServer(config: Config): Promise<void> {
  // loaded here, not at the top: a cluster primary only forks and need not carry Fastify, the stores and the SDKs
  const { createServer } = await import('./server.js');
  const server = await createServer(config);
  const address = await server.listen();
  // with WORKERS > 1 the primary announces the address once (a re-forked worker must not stay silent)
  if (cluster.isPrimary) console.log(banner(config, address, server.publicUrl.base));
  let closing = false;
  // SIGTERM drains: no new connections, requests in flight finish, background work stops at a safe point, the
  // store closes, exit 0. Past SHUTDOWN_TIMEOUT the process exits anyway, with 1.
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    server.log.info({ signal, timeoutMs: config.shutdownMs }, 'shutting down: draining requests and background work');
    setTimeout(() => {
      server.log.error({ signal, timeoutMs: config.shutdownMs }, 'shutdown timed out (SHUTDOWN_TIMEOUT): exiting with work unfinished');
      process.exit(1);
    }, config.shutdownMs).unref();
    server.close().then(
      () => {
        server.log.info({ signal }, 'shut down');
        process.exit(0);
      },
      (err: unknown) => {
        server.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function runPrimary(config: Config): void {
  cluster.once('listening', (_worker, address) => {
    const publicUrl = config.publicUrlSet ? config.publicUrl : localBaseUrl(config.host, address.port);
    console.log(banner(config, `http://${address.address ?? config.host}:${address.port}`, publicUrl));
  });
  // a scrape of GET /metrics lands on one worker, which asks here for the sum over all of them
  answerWorkersMetrics();
  const workers = new Set<Worker>();
  const fork = () => workers.add(cluster.fork());
  for (let i = 0; i < config.workers; i++) fork();
  let stopping = false;
  let unclean = 0;
  cluster.on('exit', (worker, code, signal) => {
    workers.delete(worker);
    if (stopping) {
      // SIGTERM before its handler was installed (still starting) is clean too: it served nothing yet
      if (code !== 0 && signal !== 'SIGTERM') unclean++;
      if (workers.size === 0) process.exit(unclean === 0 ? 0 : 1);
      return;
    }
    if (signal === 'SIGTERM' || signal === 'SIGINT' || code === 0) return;
    console.error(`worker ${worker.process.pid} died (${signal ?? code}); starting another`);
    fork();
  });
  // the workers drain (each bounded by SHUTDOWN_TIMEOUT); the primary exits when the last one has
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (workers.size === 0) process.exit(0);
    for (const w of workers) w.process.kill('SIGTERM');
    setTimeout(() => {
      console.error(`basket: ${workers.size} worker(s) still running ${config.shutdownMs + 5_000} ms after SIGTERM; killing them`);
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdownMs + 5_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`basket: configuration error: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

if (config.workers > 1 && cluster.isPrimary) {
  runPrimary(config);
} else {
  runServer(config).catch((err: unknown) => {
    console.error(`basket: failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
