/**
 * The outbox worker: claims due messages with a lease (exclusive across processes, in the store), runs the
 * topic's handler, and completes the message, or gives it back for a retry with exponential backoff. Handlers
 * are idempotent (delivery is at-least-once). `runOnce()` is one pass, for tests with their own clock.
 */
import { randomUUID } from 'node:crypto';
import type { OutboxMessage, OutboxStore } from '../store/store.js';
import type { Logger } from '../service/checkout.js';

export type Handler = (payload: unknown, message: OutboxMessage) => Promise<void>;

export interface OutboxWorkerOptions {
  store: OutboxStore;
  handlers: Record<string, Handler>;
  now: () => number;
  log: Logger;
  /** Identifies this worker's claims; default a random id. */
  owner?: string;
  batch?: number;
  leaseMs?: number;
  pollMs?: number;
  /** Backoff of retry n (1-based): min(maxBackoffMs, baseBackoffMs · 2^(n-1)). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export function backoffMs(attempts: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.min(30, Math.max(0, attempts - 1)));
}

export class OutboxWorker {
  readonly owner: string;
  private readonly o: Required<Omit<OutboxWorkerOptions, 'owner'>>;
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<number> | null = null;
  private stopped = false;

  constructor(opts: OutboxWorkerOptions) {
    this.owner = opts.owner ?? `outbox-${randomUUID()}`;
    this.o = {
      store: opts.store,
      handlers: opts.handlers,
      now: opts.now,
      log: opts.log,
      batch: opts.batch ?? 20,
      leaseMs: opts.leaseMs ?? 60_000,
      pollMs: opts.pollMs ?? 1_000,
      baseBackoffMs: opts.baseBackoffMs ?? 5_000,
      maxBackoffMs: opts.maxBackoffMs ?? 3_600_000,
    };
  }

  /** One pass: claims what is due and handles it; resolves with the number of messages handled (done or retried). */
  runOnce(): Promise<number> {
    // passes never overlap within one worker
    if (!this.pass) this.pass = this.drain().finally(() => (this.pass = null));
    return this.pass;
  }

  private async drain(): Promise<number> {
    const { store, handlers, now, log, batch, leaseMs, baseBackoffMs, maxBackoffMs } = this.o;
    if (this.stopped) return 0;
    const topics = Object.keys(handlers);
    const messages = await store.claim({ now: now(), limit: batch, leaseMs, owner: this.owner, topics });
    for (const [i, m] of messages.entries()) {
      if (this.stopped) {
        // stopping (SIGTERM): the message being handled has finished; the rest go back for another process
        await this.giveBack(messages.slice(i));
        return i;
      }
      try {
        await handlers[m.topic]!(m.payload, m);
        await store.complete(m.id, this.owner);
      } catch (err) {
        const retryAt = now() + backoffMs(m.attempts, baseBackoffMs, maxBackoffMs);
        log.warn({ err, topic: m.topic, key: m.key, attempts: m.attempts, retryAt }, 'outbox handler failed; will retry');
        await store.retry(m.id, this.owner, retryAt, err instanceof Error ? err.message : String(err)).catch((e: unknown) => {
          log.error({ err: e, id: m.id }, 'outbox retry failed; the lease will lapse');
        });
      }
    }
    return messages.length;
  }

  /** Claimed messages not handled: due again at once (their lease would otherwise hold them for leaseMs). */
  private async giveBack(messages: readonly OutboxMessage[]): Promise<void> {
    const { store, now, log } = this.o;
    for (const m of messages) {
      await store.retry(m.id, this.owner, now(), 'not handled: the worker stopped').catch((err: unknown) => {
        log.warn({ err, id: m.id }, 'outbox give-back failed; the lease will lapse');
      });
    }
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.runOnce()
        .catch((err: unknown) => this.o.log.warn({ err }, 'outbox pass failed'))
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(tick, this.o.pollMs);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(tick, this.o.pollMs);
    this.timer.unref();
  }

  /**
   * Stops polling and waits for the running pass, which finishes the message being handled and gives back the
   * rest of its batch (a safe point: handlers are idempotent, and a message cut short by a crash is retried once
   * its lease lapses).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass?.catch(() => undefined);
  }
}
