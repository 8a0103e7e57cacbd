/**
 * The admin imports' bodies (products, offers, subscriptions): JSON lines, parsed line by line as they arrive, so
 * that neither the text nor its lines are held whole; up to MAX_IMPORT_BYTES. Registered in a scope of its own by
 * each import route, since elsewhere a text body is a 415.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { BasketError } from '../domain/errors.js';

export const IMPORT_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'text/plain'];
/** The import's body limit, of its own (BODY_LIMIT is for the device API's small JSON bodies). */
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024;

/** Takes the lines of one body (1-based line numbers, blank lines included); becomes the request's body. */
export interface LineSink {
  add(raw: string, line: number): void;
}

/** Lets `scope` take JSON-lines bodies; each request's lines go to a fresh sink from `sink()`. */
export function acceptJsonLines(scope: FastifyInstance, sink: () => LineSink): void {
  for (const type of IMPORT_TYPES) scope.addContentTypeParser(type, (req, payload, done) => readJsonLines(req.headers['content-length'], payload, sink(), done));
}

/** An import with no body at all (no content type, or an empty one) reads as none of its lines. */
export const NO_LINES = { line: 1, message: 'a body of JSON lines is required' };

/** Feeds the lines of `payload` to `sink` as they arrive; more than MAX_IMPORT_BYTES (declared or sent) is a 413. */
function readJsonLines(contentLength: string | undefined, payload: Readable, sink: LineSink, done: (err: Error | null, body?: LineSink) => void): void {
  const tooLarge = () => new BasketError('PAYLOAD_TOO_LARGE', `An import takes at most ${MAX_IMPORT_BYTES} bytes`);
  if (contentLength !== undefined && Number(contentLength) > MAX_IMPORT_BYTES) return done(tooLarge());
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 0;
  let bytes = 0;
  let finished = false;
  const finish = (err: Error | null) => {
    if (finished) return;
    finished = true;
    payload.removeListener('data', onData);
    if (err) return done(err);
    done(null, sink);
  };
  const take = (text: string) => {
    pending += text;
    let nl = pending.indexOf('\n');
    let from = 0;
    while (nl !== -1) {
      sink.add(pending.slice(from, nl), ++line);
      from = nl + 1;
      nl = pending.indexOf('\n', from);
    }
    pending = pending.slice(from);
  };
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_IMPORT_BYTES) return finish(tooLarge());
    take(decoder.write(chunk));
  };
  payload.on('data', onData);
  payload.once('error', (err) => finish(err));
  payload.once('end', () => {
    take(decoder.end());
    if (pending !== '') sink.add(pending, ++line);
    finish(null);
  });
}

/** The answer to an import with bad lines: 422 `3002`, each (up to 100) named `line N`; nothing was written. */
export function linesRefused(errors: readonly { line: number; message: string }[]): BasketError {
  return new BasketError(
    'REQUEST_VALIDATION_ERROR',
    `${errors.length} invalid line(s); nothing imported`,
    errors.slice(0, 100).map((e) => ({ field: `line ${e.line}`, message: e.message })),
  );
}
