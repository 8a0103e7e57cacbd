/**
 * The connection cap of the HTTP server (issue 17). Node's own timeouts (REQUEST_TIMEOUT, HEADERS_TIMEOUT,
 * KEEP_ALIVE_TIMEOUT) end slow and idle connections in seconds; this bounds how many there are at once:
 *
 * - at most `maxPerAddress` connections from one client address (the rest are answered 503 and closed);
 * - near the cap (three quarters of it) the server is under pressure: every half second it closes connections
 *   that have been idle (no request in flight) for a second, and requests whose body has not arrived within two;
 * - at the cap a new connection takes the place of the oldest such idle or slow one; only when there is none is
 *   it answered 503 and closed.
 *
 * Nothing here runs per request: the state of a connection is read from Node's socket when the sweep or a new
 * connection looks at it, and the sweep does nothing until the server is under pressure.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { BUSY_ANSWER } from './errors.js';

export interface ConnectionLimits {
  maxConnections: number;
  /** 0: no limit per client address. */
  maxPerAddress: number;
}

export interface ConnectionGuard {
  /** Connections open now. */
  readonly open: number;
  /** Connections answered 503 and closed at once (per-address limit, or the cap with nothing to shed). */
  readonly refused: number;
  /** Connections closed to make room (idle or slow under pressure, or in favour of a new one at the cap). */
  readonly shed: number;
  /**
   * The server is closing: connections without a request in flight are closed now, those still receiving a
   * request's body after `graceMs`; requests being answered are left to finish. Node's own close waits for every
   * connection, and stops the timeouts that would end them: a connection whose client vanished without a trace (no
   * FIN or RST ever arrives) would hold it forever.
   */
  closing(graceMs: number): void;
  stop(): void;
}

/** What a connection is doing: waiting for its next request, receiving a request's body, or being answered. */
type State = 'idle' | 'body' | 'busy';

interface Connection {
  address: string;
  state: State;
  /** The response in flight when the state was last seen (a new request is a new state). */
  res: ServerResponse | null;
  /** Bytes read when the state was last seen: an idle connection that sent anything since is not idle. */
  bytes: number;
  /** When the state was first seen. */
  since: number;
}

const TICK_MS = 500;
const IDLE_GRACE_MS = 1000;
const BODY_GRACE_MS = 2000;
/** How long a connection must have been idle or slow to give way to a new one at the cap. */
const EVICTION_MIN_MS = 250;
/** Connections looked at, oldest first, for one to give way to a new connection at the cap. */
const EVICTION_SCAN = 512;

function stateOf(socket: Socket): { state: State; res: ServerResponse | null } {
  // Node's own link from a socket to the response it is writing (no public API); null between requests
  const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
  if (res === null || res.writableEnded) return { state: 'idle', res: null };
  return { state: res.req.complete ? 'busy' : 'body', res };
}

export function guardConnections(server: Server, limits: ConnectionLimits, log: FastifyBaseLogger, now: () => number = Date.now): ConnectionGuard {
  const open = new Map<Socket, Connection>();
  const perAddress = new Map<string, number>();
  const pressureAt = Math.max(1, Math.floor(limits.maxConnections * 0.75));
  let refused = 0;
  let shed = 0;
  let underPressure = false;

  const refuse = (socket: Socket) => {
    refused++;
    // the request has not been read: a short answer, then the file descriptor is freed at once
    if (socket.writable) socket.write(BUSY_ANSWER);
    socket.destroy();
  };
  const drop = (socket: Socket) => {
    shed++;
    socket.destroy();
  };

  /**
   * True when the connection has stayed idle (nothing read) or stuck in the same request's body since it was first
   * seen so, `ms` ago or more; a connection being answered never is.
   */
  const stale = (socket: Socket, c: Connection, ms: number, t: number): boolean => {
    const { state, res } = stateOf(socket);
    const bytes = socket.bytesRead;
    if (state !== c.state || res !== c.res || (state === 'idle' && bytes !== c.bytes)) {
      c.state = state;
      c.res = res;
      c.bytes = bytes;
      c.since = t;
      return false;
    }
    return state !== 'busy' && t - c.since >= ms;
  };

  /** Frees one place for a new connection: the oldest connection that has been idle or slow since the last sweep. */
  const evictOne = (t: number): boolean => {
    let looked = 0;
    for (const [socket, c] of open) {
      if (looked++ >= EVICTION_SCAN) break;
      if (stale(socket, c, EVICTION_MIN_MS, t)) {
        drop(socket);
        return true;
      }
    }
    return false;
  };

  const onConnection = (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const fromAddress = perAddress.get(address) ?? 0;
    if (limits.maxPerAddress > 0 && fromAddress >= limits.maxPerAddress) return refuse(socket);
    const t = now();
    if (open.size >= limits.maxConnections && !evictOne(t)) return refuse(socket);
    open.set(socket, { address, state: 'idle', res: null, bytes: 0, since: t });
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      open.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  };
  server.on('connection', onConnection);

  const sweep = () => {
    if (open.size < pressureAt) {
      if (underPressure) log.info({ open: open.size, refused, shed }, 'connections back below the pressure mark');
      underPressure = false;
      return;
    }
    if (!underPressure) log.warn({ open: open.size, max: limits.maxConnections }, 'connections near the cap: closing idle and slow ones');
    underPressure = true;
    const t = now();
    for (const [socket, c] of open) if (stale(socket, c, c.state === 'body' ? BODY_GRACE_MS : IDLE_GRACE_MS, t)) drop(socket);
  };
  const timer = setInterval(sweep, TICK_MS);
  timer.unref();
  let lastCall: NodeJS.Timeout | undefined;

  return {
    get open() {
      return open.size;
    },
    get refused() {
      return refused;
    },
    get shed() {
      return shed;
    },
    closing(graceMs) {
      for (const socket of open.keys()) if (stateOf(socket).state === 'idle') socket.destroy();
      // a request being answered is left to finish (draining is the shutdown's business); a body still not here is not
      lastCall = setTimeout(() => {
        for (const socket of open.keys()) if (stateOf(socket).state !== 'busy') socket.destroy();
      }, graceMs);
      lastCall.unref();
    },
    stop() {
      clearInterval(timer);
      clearTimeout(lastCall);
      server.removeListener('connection', onConnection);
    },
  };
}
