// @ts-check
/**
 * The QR thread (qr-thread.ts): draws QR code PNGs off the event loop. Each message is `{ id, text }`; the
 * answer is `{ id, png }` (the PNG's bytes, transferred, not copied) or `{ id, error }`.
 */
import { parentPort } from 'node:worker_threads';
import { qrPng } from './qr-png.mjs';

const port = parentPort;
if (port === null) throw new Error('qr-worker must run in a worker thread');

port.on('message', (/** @type {{ id: number, text: string }} */ { id, text }) => {
  try {
    const png = qrPng(text);
    // a fresh ArrayBuffer of its own, so that it can be handed over instead of copied
    const bytes = new Uint8Array(png).buffer;
    port.postMessage({ id, png: bytes }, [bytes]);
  } catch (error) {
    port.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
