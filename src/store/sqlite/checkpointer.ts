/**
 * Starts and stops the WAL checkpoint thread of a SQLite store (see checkpoint-worker.mjs for why).
 *
 * The store's own connection keeps SQLite's autocheckpoint, raised to BACKSTOP_FRAMES: under a steady stream
 * of commits the thread never finds the WAL fully copied at the moment a writer starts, so the WAL can only
 * restart from its beginning after a checkpoint on the writing connection. That one finds nearly every frame
 * already copied and synced by the thread, so it is short. If the thread fails, the autocheckpoint goes back to
 * SQLite's default and the store carries on as before.
 */
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** What the thread is started with (checkpoint-worker.mjs). */
export interface CheckpointWorkerData {
  file: string;
  /** How often it looks at the WAL. */
  intervalMs: number;
  /** It checkpoints once the WAL holds this many frames not yet copied. */
  minFrames: number;
}
/** Sent to the thread: checkpoint now (tests), or stop. */
export type CheckpointCommand = 'checkpoint' | 'close';
/** The thread's answer to `checkpoint`: WAL frames and frames copied, or why it could not run. */
export type CheckpointReply = { log: number; checkpointed: number } | { error: string };

/** SQLite's default autocheckpoint, in WAL frames (pages). */
const DEFAULT_AUTOCHECKPOINT = 1000;
/** Autocheckpoint of the writing connection while the thread runs: 16,384 frames is 64 MiB of 4 KiB pages. */
export const BACKSTOP_FRAMES = 16_384;
const TICK_MS = 50;

export interface Checkpointer {
  /** Checkpoints now, on the thread (tests). */
  checkpoint(): Promise<CheckpointReply>;
  /** Stops the thread; the store's connection takes checkpoints back. */
  close(): Promise<void>;
}

export function startCheckpointer(file: string, db: Database.Database): Checkpointer {
  const workerData: CheckpointWorkerData = { file, intervalMs: TICK_MS, minFrames: DEFAULT_AUTOCHECKPOINT };
  const worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), {
    workerData,
    // plain JavaScript: no TypeScript loader (tests) or profiler flags carried over from the main thread
    execArgv: [],
    // It holds one statement and a timer: keep its heap small, the RSS budget is the service's.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
  });
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_FRAMES}`);

  let running = true;
  const waiting: ((reply: CheckpointReply) => void)[] = [];
  const stopped = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const fallBack = () => {
    if (!running) return;
    running = false;
    if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
    for (const w of waiting.splice(0)) w({ error: 'checkpoint thread stopped' });
  };
  // An error event without a listener would crash the process; losing the thread only costs speed.
  worker.on('error', fallBack);
  worker.on('exit', fallBack);
  worker.on('message', (reply: CheckpointReply) => {
    const w = waiting.shift();
    if (waiting.length === 0) worker.unref();
    w?.(reply);
  });
  // Idle, the thread must not keep the process alive (a store that is never closed); while a checkpoint() is
  // answered, it must. Unref'd after the listeners, as adding a 'message' listener refs it again.
  worker.unref();

  const send = (command: CheckpointCommand) => worker.postMessage(command);
  return {
    checkpoint() {
      if (!running) return Promise.resolve({ error: 'checkpoint thread stopped' });
      return new Promise((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 1) worker.ref();
        send('checkpoint');
      });
    },
    async close() {
      // unref'd so that it never keeps a process alive; while we wait for it to stop, it must
      worker.ref();
      if (running) send('close');
      await stopped;
    },
  };
}
