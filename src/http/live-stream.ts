/**
 * Server-Sent Events on a raw Node response (issue 22): the change stream's wire, its heartbeats, its
 * backpressure and its end at shutdown.
 *
 * Backpressure: a stream holds at most one event that the socket has not taken. While the socket's buffer is
 * full (a slow or stalled client), a newer state replaces the waiting one and heartbeats are skipped, so a slow
 * client costs one basket's bytes, not the history of its changes. Nothing is compressed or buffered on the way:
 * the routes live outside the compressed scope (compression.ts) and every event is written as it is made.
 */
import type { ServerResponse } from 'node:http';

/** What an event stream sends: `id` is the basket version (the client's Last-Event-ID on reconnect). */
export interface StreamEvent {
  id: number;
  /** The basket as JSON (one line). */
  data: string;
}

/** How long EventSource waits before reconnecting after a dropped connection (the `retry:` field), ms. */
export const RETRY_MS = 2000;

export class EventStream {
  private waiting: string | null = null;
  private blocked = false;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    /** The id of the last event the client has (Last-Event-ID), or sent since: an event with it is not sent again. */
    private lastId: number | null,
  ) {
    res.write(`retry: ${RETRY_MS}\n\n`);
  }

  get closed(): boolean {
    return this.ended || this.res.destroyed || this.res.writableEnded;
  }

  /** Sends the basket unless the client has this version already. */
  send(event: StreamEvent): void {
    if (event.id === this.lastId) return;
    this.lastId = event.id;
    this.write(`id: ${event.id}\nevent: basket\ndata: ${event.data}\n\n`);
  }

  /** A comment line: keeps proxies from timing the connection out and tells the client it is alive. */
  heartbeat(): void {
    if (!this.blocked) this.write(':\n\n');
  }

  private write(frame: string): void {
    if (this.closed) return;
    if (this.blocked) {
      // only the newest state waits; the one it replaces is never sent
      if (!frame.startsWith(':')) this.waiting = frame;
      return;
    }
    if (this.res.write(frame)) return;
    this.blocked = true;
    this.res.once('drain', () => {
      this.blocked = false;
      const next = this.waiting;
      this.waiting = null;
      if (next !== null) this.write(next);
    });
  }

  /** Ends the stream (shutdown); the client reconnects with its Last-Event-ID elsewhere or later. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.waiting = null;
    if (!this.res.writableEnded) this.res.end();
  }
}

/** A heartbeat tick's least spacing: the interval is cut into slices of about this length. */
const HEARTBEAT_SLICE_MS = 250;
/** Most slices per interval (at 15 s, a tick every 250 ms). */
const MAX_HEARTBEAT_SLICES = 60;

/**
 * The open streams of a process: one heartbeat timer for all, and the end of all at shutdown. The streams are
 * spread over slices of the heartbeat interval, each tick beating one slice: 10,000 streams beating in the same
 * instant held every write behind 10,000 socket writes (the SSE bench's p99 followed the bursts).
 */
export class LiveStreams {
  private readonly slices: Set<EventStream>[];
  private readonly sliceOf = new Map<EventStream, Set<EventStream>>();
  private added = 0;
  private tick = 0;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly heartbeatMs: number) {
    const count = Math.min(MAX_HEARTBEAT_SLICES, Math.max(1, Math.floor(heartbeatMs / HEARTBEAT_SLICE_MS)));
    this.slices = Array.from({ length: count }, () => new Set());
  }

  get size(): number {
    return this.sliceOf.size;
  }

  /** False once the server is closing: the caller answers 503 instead of opening a stream. */
  get accepting(): boolean {
    return !this.closing;
  }

  add(stream: EventStream): void {
    if (this.sliceOf.has(stream)) return;
    // round robin: the slices stay even as streams come and go
    const slice = this.slices[this.added++ % this.slices.length]!;
    slice.add(stream);
    this.sliceOf.set(stream, slice);
    if (this.timer === null) {
      this.timer = setInterval(() => this.beat(), this.heartbeatMs / this.slices.length);
      this.timer.unref();
    }
  }

  delete(stream: EventStream): void {
    const slice = this.sliceOf.get(stream);
    if (slice === undefined) return;
    slice.delete(stream);
    this.sliceOf.delete(stream);
    if (this.sliceOf.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** One tick: the next slice's streams get their heartbeat (each stream once per interval). */
  private beat(): void {
    const slice = this.slices[this.tick++ % this.slices.length]!;
    for (const s of slice) s.heartbeat();
  }

  /** Shutdown: ends every stream now (a drain must not wait for connections that never finish by themselves). */
  closeAll(): void {
    this.closing = true;
    for (const s of [...this.sliceOf.keys()]) {
      s.end();
      this.delete(s);
    }
  }
}
