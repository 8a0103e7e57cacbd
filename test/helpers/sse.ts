/**
 * A small Server-Sent Events client for tests: opens a stream with node:http, parses events and comments as they
 * arrive, and lets a test wait for the next one (with a deadline, so a missing event fails instead of hanging).
 */
import http, { type IncomingMessage } from 'node:http';

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: IncomingMessage['headers'];
  /** The whole body when the answer is not a stream (an error envelope). */
  body(): Promise<string>;
  events: SseEvent[];
  /** Comment lines (heartbeats) seen so far. */
  comments: number;
  /** Resolves with the `n`th event (0-based) once it has arrived; rejects after `timeoutMs`. */
  event(n: number, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves once `count` comments have arrived. */
  heartbeats(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      let comments = 0;
      let buffer = '';
      let waiters: (() => void)[] = [];
      const wake = () => {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      };
      let endedResolve: () => void = () => undefined;
      const ended = new Promise<void>((r) => (endedResolve = r));
      const streaming = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!streaming) {
          raw += chunk;
          return;
        }
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          let onlyComments = true;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            onlyComments = false;
            const colon = line.indexOf(':');
            const name = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            fields[name] = fields[name] === undefined ? value : `${fields[name]}\n${value}`;
          }
          if (onlyComments) comments++;
          else if (fields.data !== undefined) events.push({ id: fields.id ?? null, event: fields.event ?? 'message', data: fields.data });
        }
        wake();
      });
      const finish = () => {
        endedResolve();
        wake();
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
      const until = (ready: () => boolean, timeoutMs: number, what: string) =>
        new Promise<void>((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(events)}`)), timeoutMs);
          const check = () => {
            if (ready()) {
              clearTimeout(timer);
              ok();
            } else waiters.push(check);
          };
          check();
        });
      const stream: SseStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        get comments() {
          return comments;
        },
        body: () => ended.then(() => raw),
        event: async (n, timeoutMs = 5000) => {
          await until(() => events.length > n, timeoutMs, `event #${n}`);
          return events[n]!;
        },
        heartbeats: (count, timeoutMs = 5000) => until(() => comments >= count, timeoutMs, `${count} heartbeats`),
        ended,
        close: () => {
          req.destroy();
          res.destroy();
        },
      };
      resolve(stream);
    });
    req.on('error', reject);
  });
}
