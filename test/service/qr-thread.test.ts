/**
 * The QR thread: the codes it draws are the in-thread ones, byte for byte, however many are asked at once, and a
 * process that drew codes still exits by itself.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { qrPng as drawHere } from '../../src/service/qr-png.mjs';
import { qrPng, qrThreadState, stopIdle } from '../../src/service/qr-thread.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/qr-then-exit.ts', import.meta.url));

describe('QR thread', () => {
  it('draws the same PNG as the event loop would, for every one of many concurrent codes', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `https://shop.example/basket?jaySource=tv&jayToken=${String(i).repeat(40 + (i % 3))}`);
    const drawn = await Promise.all(texts.map((t) => qrPng(t)));
    drawn.forEach((png, i) => assert.ok(png.equals(drawHere(texts[i]!)), texts[i]));
  });

  it('stops when idle, not while a code is owed, and the next code starts it again', async () => {
    await qrPng('https://shop.example/a');
    assert.equal(qrThreadState(), 'running');
    const owed = qrPng('https://shop.example/b');
    stopIdle(); // a code is owed: it keeps running
    assert.equal(qrThreadState(), 'running');
    assert.ok((await owed).equals(drawHere('https://shop.example/b')));
    stopIdle();
    assert.equal(qrThreadState(), 'stopped');
    const again = await qrPng('https://shop.example/c');
    assert.ok(again.equals(drawHere('https://shop.example/c')));
    assert.equal(qrThreadState(), 'running', 'started again, and its exit was not taken for a failure');
  });

  it('a process that drew codes exits by itself, after they are done', async () => {
    // execFile's timeout kills a process that hangs: the test then fails on the signal
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', FIXTURE], { cwd: ROOT, timeout: 30_000 });
    const sizes = stdout.trim().split(' ').map(Number);
    assert.equal(sizes.length, 5);
    for (const n of sizes) assert.ok(n > 100, `PNG of ${n} bytes`);
  });
});
