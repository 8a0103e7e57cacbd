/** The in-process subscribers to basket changes, shared by the store adapters. */
import type { BasketChangeListener, BasketChangeSource, BasketKey } from '../store.js';

const LOCAL: BasketChangeSource = Object.freeze({ remote: false });
const REMOTE: BasketChangeSource = Object.freeze({ remote: true });

export class BasketChangeListeners {
  private readonly listeners = new Set<BasketChangeListener>();

  /** Store.onBasketChange. */
  add(listener: BasketChangeListener): () => void {
    // A wrapper makes each subscription distinct, so subscribing one function twice needs two unsubscribes.
    const entry: BasketChangeListener = (key, source) => listener(key, source);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Tells every listener; each gets its own copy of the key. `remote`: another process wrote it. */
  emit(key: BasketKey, remote = false): void {
    const source = remote ? REMOTE : LOCAL;
    for (const listener of this.listeners) {
      try {
        listener({ partnerId: key.partnerId, userId: key.userId }, source);
      } catch (error) {
        // A listener's failure must not fail the write that already committed.
        process.emitWarning(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
