/** The in-process subscribers to basket changes, shared by the store adapters. */
import type { BasketChangeListener, BasketKey } from '../store.js';

export class BasketChangeListeners {
  private readonly listeners = new Set<BasketChangeListener>();

  /** Store.onBasketChange. */
  add(listener: BasketChangeListener): () => void {
    // A wrapper makes each subscription distinct, so subscribing one function twice needs two unsubscribes.
    const entry: BasketChangeListener = (key) => listener(key);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Tells every listener; each gets its own copy of the key. */
  emit(key: BasketKey): void {
    for (const listener of this.listeners) {
      try {
        listener({ partnerId: key.partnerId, userId: key.userId });
      } catch (error) {
        // A listener's failure must not fail the write that already committed.
        process.emitWarning(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
