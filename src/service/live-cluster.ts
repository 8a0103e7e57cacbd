/**
 * Basket changes between node:cluster workers on SQLite (issue 22). SQLite has no notification channel: a worker
 * learns of its own writes only. So each worker tells the primary of the baskets it wrote, and the primary passes
 * the message on to the other workers, whose feeds then read the basket from the shared file.
 *
 * Only while someone listens: a worker tells the primary when it starts and stops having open streams, and the
 * primary tells every worker whether any *other* worker has some; a worker sends its changes only then, so
 * writes cost no IPC message while nobody watches. (PostgreSQL and Redis report other processes' writes
 * themselves; this is not used for them.)
 */
import cluster, { type Worker } from 'node:cluster';
import type { BasketKey, BasketStore } from '../store/store.js';
import type { BasketFeed } from './live.js';

const INTEREST = 'basket:live-interest';
const OTHERS = 'basket:live-others';
const CHANGE = 'basket:live-change';

interface Interest {
  type: typeof INTEREST;
  open: boolean;
}
interface Others {
  type: typeof OTHERS;
  listen: boolean;
}
interface Change {
  type: typeof CHANGE;
  partnerId: string;
  userId: string;
}

const typed = (m: unknown): string | null =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' ? (m as { type: string }).type : null;
const isChange = (m: unknown): m is Change =>
  typed(m) === CHANGE && typeof (m as Change).partnerId === 'string' && typeof (m as Change).userId === 'string';

const REMOTE = Object.freeze({ remote: true });

/** Primary: passes each worker's basket changes to the other workers that have open streams. Call once. */
export function relayBasketChanges(): void {
  const listening = new Set<number>();
  const send = (w: Worker | undefined, message: Others | Change) => {
    if (w?.isConnected()) w.send(message);
  };
  const tellAll = () => {
    for (const w of Object.values(cluster.workers ?? {})) {
      if (w) send(w, { type: OTHERS, listen: [...listening].some((id) => id !== w.id) });
    }
  };
  cluster.on('online', (w) => send(w, { type: OTHERS, listen: listening.size > 0 }));
  cluster.on('exit', (w) => {
    if (listening.delete(w.id)) tellAll();
  });
  cluster.on('message', (worker: Worker, message: unknown) => {
    const type = typed(message);
    if (type === INTEREST) {
      const had = listening.has(worker.id);
      if ((message as Interest).open) listening.add(worker.id);
      else listening.delete(worker.id);
      if (had !== listening.has(worker.id)) tellAll();
    } else if (isChange(message)) {
      const change: Change = { type: CHANGE, partnerId: message.partnerId, userId: message.userId };
      for (const id of listening) if (id !== worker.id) send(cluster.workers?.[id], change);
    }
  });
}

/** Worker: sends this worker's basket writes to the primary while others listen, and feeds it theirs. */
export function relayThroughPrimary(feed: BasketFeed, store: Pick<BasketStore, 'onBasketChange'>): () => void {
  const send = process.send?.bind(process);
  if (send === undefined) return () => undefined;
  let othersListen = false;
  const post = (message: Interest | Change) => {
    if (process.connected) send(message);
  };
  feed.onActivity((open) => post({ type: INTEREST, open: open > 0 }));
  const unlisten = store.onBasketChange((key: BasketKey, source) => {
    if (othersListen && !source.remote) post({ type: CHANGE, partnerId: key.partnerId, userId: key.userId });
  });
  const onMessage = (message: unknown) => {
    if (typed(message) === OTHERS) othersListen = (message as Others).listen;
    else if (isChange(message)) feed.changed({ partnerId: message.partnerId, userId: message.userId }, REMOTE);
  };
  process.on('message', onMessage);
  return () => {
    unlisten();
    process.off('message', onMessage);
  };
}
