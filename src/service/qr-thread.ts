/**
 * QR code PNGs drawn on a worker thread. Building a code's module matrix (`qrcode`, pure JavaScript) takes
 * 1–3 ms: on the event loop, a burst of "scan to buy" requests at the end of a show would hold up every basket
 * request behind it. One thread per process, started by the first code, stopped after IDLE_MS without one (its
 * ~15 MB count against the process's memory), and never keeping the process alive. If the thread fails, codes are
 * drawn on the event loop again, as before.
 */
import { Worker } from 'node:worker_threads';

type Reply = { id: number; png: ArrayBuffer } | { id: number; error: string };
interface Waiting {
  text: string;
  resolve(png: Buffer): void;
  reject(error: Error): void;
}

/** How long the thread outlives its last code; starting it again costs tens of milliseconds. */
const IDLE_MS = 5_000;

let worker: Worker | null = null;
let idleTimer: NodeJS.Timeout | null = null;
/** Set once the thread has failed: from then on, codes are drawn in-thread. */
let failed = false;
let nextId = 0;
const waiting = new Map<number, Waiting>();

/** In-thread drawing: the fallback, and the module the thread itself runs. */
let local: Promise<typeof import('./qr-png.mjs')> | null = null;
async function drawHere(text: string): Promise<Buffer> {
  local ??= import('./qr-png.mjs');
  return (await local).qrPng(text);
}

/** Stops the thread if no code is owed (the idle timer; exported for tests). The next code starts it again. */
export function stopIdle(): void {
  if (idleTimer !== null) clearTimeout(idleTimer);
  idleTimer = null;
  const w = worker;
  if (w === null || waiting.size > 0) return;
  worker = null; // first: its exit is then not taken for a failure
  void w.terminate();
}

function fail(): void {
  failed = true;
  worker = null;
  // the codes the thread still owed are drawn here
  for (const [id, w] of waiting) {
    waiting.delete(id);
    drawHere(w.text).then(w.resolve, w.reject);
  }
}

function thread(): Worker {
  if (worker !== null) return worker;
  const w = new Worker(new URL('./qr-worker.mjs', import.meta.url), {
    // plain JavaScript: no TypeScript loader (tests) or profiler flags carried over from the main thread
    execArgv: [],
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
  });
  w.on('message', (reply: Reply) => {
    const job = waiting.get(reply.id);
    if (!job) return;
    waiting.delete(reply.id);
    if (waiting.size === 0) {
      w.unref();
      idleTimer = setTimeout(stopIdle, IDLE_MS).unref();
    }
    if ('png' in reply) job.resolve(Buffer.from(reply.png));
    else job.reject(new Error(`QR code could not be drawn: ${reply.error}`));
  });
  // an error event without a listener would crash the process; losing the thread only costs the event loop time
  w.on('error', fail);
  w.on('exit', () => {
    if (worker === w) fail();
  });
  // Idle, the thread must not keep the process alive; while a code is owed, it must (see qrPng). Unref'd after
  // the listeners, as adding a 'message' listener refs it again.
  w.unref();
  worker = w;
  return w;
}

/** Whether the thread runs, is stopped (idle, or never started), or has failed for good (tests, diagnostics). */
export function qrThreadState(): 'running' | 'stopped' | 'failed' {
  return failed ? 'failed' : worker !== null ? 'running' : 'stopped';
}

/** The PNG of a QR code for `text`, drawn on the QR thread. */
export function qrPng(text: string): Promise<Buffer> {
  if (failed) return drawHere(text);
  if (idleTimer !== null) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  const w = thread();
  return new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { text, resolve, reject });
    if (waiting.size === 1) w.ref();
    w.postMessage({ id, text });
  });
}
