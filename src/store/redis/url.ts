/** The Redis STORE_URL forms, parsed once for the store and for the rate-limit counters. */

export interface ParsedUrl {
  cluster: boolean;
  nodes: { host: string; port: number }[];
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
  db: number;
  prefix: string | null;
}

/** redis://[user:pass@]host:port[/db][?prefix=x], rediss://..., redis-cluster://[user:pass@]h:p,h:p[?prefix=x] */
export function parseRedisUrl(url: string): ParsedUrl {
  const m = /^(redis|rediss|redis-cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(?:\/(\d*))?(?:\?([^#]*))?$/.exec(url);
  if (!m) throw new Error('Redis URL must look like redis://host:port, rediss://host:port or redis-cluster://host:port,host:port');
  const [, scheme, user, pass, hosts = '', db, query] = m;
  const nodes = hosts.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    const host = at > 0 ? hp.slice(0, at) : hp;
    const port = at > 0 ? Number(hp.slice(at + 1)) : 6379;
    if (host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`Redis URL has a bad node ${JSON.stringify(hp)}`);
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
  const params = new URLSearchParams(query ?? '');
  return {
    cluster: scheme === 'redis-cluster',
    nodes,
    username: user ? decodeURIComponent(user) : undefined,
    password: pass !== undefined ? decodeURIComponent(pass) : undefined,
    tls: scheme === 'rediss' || params.get('tls') === 'true',
    db: db ? Number(db) : 0,
    prefix: params.get('prefix'),
  };
}
