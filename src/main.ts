/**
 * Entry point: validated configuration, then one server process, or WORKERS processes sharing the port
 * (node:cluster) and the store.
 */
import cluster from 'node:cluster';
import { ConfigError, loadConfig, DEV_ADMIN_KEY, type Config } from './config.js';

function banner(config: Config, address: string): string {
  const lines = [`basket listening on ${address} (store: ${config.storeUrl.replace(/\/\/[^@/]*@/, '//***@')})`];
  lines.push(`  OpenAPI: ${config.publicUrl}/openapi.json   docs: ${config.publicUrl}/docs`);
  if (config.devPartner) {
    lines.push('  development partner "demo": X-API-Key dev-api-key');
    lines.push('  mint a user token:  TOKEN=$(npm run -s token -- --user u1)');
    if (config.adminKey === DEV_ADMIN_KEY) lines.push(`  admin key (development): ${DEV_ADMIN_KEY}`);
  }
  return lines.join('\n');
}

async function runServer(config: Config): Promise<void> {
  // loaded here, not at the top: a cluster primary only forks and need not carry Fastify, the stores and the SDKs
  const { createServer } = await import('./server.js');
  const server = await createServer(config);
  const address = await server.app.listen({ host: config.host, port: config.port });
  // with WORKERS > 1 the primary announces the address once (a re-forked worker must not stay silent)
  if (cluster.isPrimary) console.log(banner(config, address));
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    server.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
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
    console.log(banner(config, `http://${address.address ?? config.host}:${address.port}`));
  });
  for (let i = 0; i < config.workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (signal === 'SIGTERM' || signal === 'SIGINT' || code === 0) return;
    console.error(`worker ${worker.process.pid} died (${signal ?? code}); starting another`);
    cluster.fork();
  });
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
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
