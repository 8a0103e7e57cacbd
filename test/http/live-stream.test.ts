/** The heartbeat schedule of src/http/live-stream.ts: spread over slices of the interval, each stream once per interval. */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { EventStream, LiveStreams } from '../../src/http/live-stream.js';

/** A response that takes every write and keeps it. */
function fakeResponse(): { res: ServerResponse; frames: string[] } {
  const frames: string[] = [];
  const res = Object.assign(new EventEmitter(), {
    destroyed: false,
    writableEnded: false,
    write(frame: string) {
      frames.push(frame);
      return true;
    },
    end() {
      res.writableEnded = true;
    },
  });
  return { res: res as unknown as ServerResponse, frames };
}

const beats = (frames: string[]) => frames.filter((f) => f === ':\n\n').length;

describe('LiveStreams heartbeats', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
  afterEach(() => mock.timers.reset());

  it('spread over the interval: a 1 s interval beats a quarter of the streams every 250 ms, each stream once', () => {
    const streams = new LiveStreams(1000);
    const open = Array.from({ length: 8 }, () => fakeResponse());
    for (const { res } of open) streams.add(new EventStream(res, null));
    mock.timers.tick(250);
    assert.deepEqual(open.map(({ frames }) => beats(frames)), [1, 0, 0, 0, 1, 0, 0, 0]);
    mock.timers.tick(750);
    assert.deepEqual(open.map(({ frames }) => beats(frames)), [1, 1, 1, 1, 1, 1, 1, 1]);
    mock.timers.tick(1000);
    assert.deepEqual(open.map(({ frames }) => beats(frames)), [2, 2, 2, 2, 2, 2, 2, 2]);
  });

  it('an interval shorter than a slice beats every stream at once; a closed stream gets none', () => {
    const streams = new LiveStreams(150);
    const [a, b] = [fakeResponse(), fakeResponse()];
    const sa = new EventStream(a.res, null);
    streams.add(sa);
    streams.add(new EventStream(b.res, null));
    mock.timers.tick(150);
    assert.deepEqual([beats(a.frames), beats(b.frames)], [1, 1]);
    streams.delete(sa);
    assert.equal(streams.size, 1);
    mock.timers.tick(150);
    assert.deepEqual([beats(a.frames), beats(b.frames)], [1, 2]);
  });

  it('closeAll ends every stream and refuses new ones', () => {
    const streams = new LiveStreams(15_000);
    const open = Array.from({ length: 3 }, () => fakeResponse());
    for (const { res } of open) streams.add(new EventStream(res, null));
    streams.closeAll();
    assert.equal(streams.size, 0);
    assert.equal(streams.accepting, false);
    assert.ok(open.every(({ res }) => res.writableEnded));
  });
});
