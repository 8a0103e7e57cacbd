// @ts-check
/**
 * Worker thread of the SQLite store: moves WAL checkpoints off the event loop.
 *
 * A checkpoint copies the WAL into the database file and fsyncs both. Run by the connection that commits (SQLite's
 * autocheckpoint), it stalls every request for as long as the disk takes. Here it runs on its own connection in
 * its own thread; the store's connection only appends to the WAL. PASSIVE never waits for readers or writers, so
 * it cannot hold up a commit either.
 *
 * Plain JavaScript so that the thread starts without a TypeScript loader (tests run under tsx); its types are in
 * sqlite-checkpointer.ts.
 */
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** @typedef {import('./checkpointer.js').CheckpointWorkerData} CheckpointWorkerData */
/** @typedef {import('./checkpointer.js').CheckpointCommand} CheckpointCommand */
/** @typedef {import('./checkpointer.js').CheckpointReply} CheckpointReply */
/** @typedef {{ busy: number, log: number, checkpointed: number }} WalFrames log: frames in the WAL; checkpointed: of those, copied */

const port = parentPort;
if (port === null) throw new Error('sqlite-checkpoint-worker must run in a worker thread');
const data = /** @type {CheckpointWorkerData} */ (workerData);

const db = new Database(data.file, { fileMustExist: true });
// A PASSIVE checkpoint takes no lock it would wait for; a busy handler would only delay the next try.
db.pragma('busy_timeout = 0');
// PASSIVE syncs the database file only when it copied the whole WAL, which a busy WAL never lets it do. The
// copied pages are synced here instead, so that the writing connection's own (backstop) checkpoint, which ends
// with that sync, finds next to nothing left to write. fsync acts on the file, not on the descriptor.
const dbFd = openSync(data.file, 'r+');
const checkpoint = /** @type {import('better-sqlite3').Statement<[], WalFrames>} */ (db.prepare('PRAGMA wal_checkpoint(PASSIVE)'));
// NOOP (SQLite 3.51+, bundled with better-sqlite3) reports the frame counts without copying anything.
const frames = /** @type {import('better-sqlite3').Statement<[], WalFrames>} */ (db.prepare('PRAGMA wal_checkpoint(NOOP)'));

/** @returns {CheckpointReply} */
function run() {
  try {
    const row = /** @type {WalFrames} */ (checkpoint.get());
    if (row.checkpointed > 0) fdatasyncSync(dbFd);
    return { log: row.log, checkpointed: row.checkpointed };
  } catch (error) {
    // SQLITE_BUSY: another process is checkpointing the same file; it does the work, and we look again later
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

function tick() {
  try {
    const row = /** @type {WalFrames} */ (frames.get());
    if (row.log - row.checkpointed < data.minFrames) return;
  } catch {
    return;
  }
  run();
}

const timer = setInterval(tick, data.intervalMs);
port.on('message', (/** @type {CheckpointCommand} */ command) => {
  if (command === 'checkpoint') {
    port.postMessage(run());
    return;
  }
  clearInterval(timer);
  db.close();
  closeSync(dbFd);
  port.close();
});
