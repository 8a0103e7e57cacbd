/** The outbox: a durable queue of jobs, claimed with a lease so that no message goes to two owners. */

export interface OutboxInput {
  topic: string;
  /** Deduplication key within the topic: enqueueing the same (topic, key) twice keeps the first. */
  key: string;
  payload: unknown;
  /** Epoch ms before which the message is not handed out (delayed jobs, e.g. checkout expiry). */
  availableAt: number;
}

export interface OutboxMessage {
  id: string;
  topic: string;
  key: string;
  payload: unknown;
  /** Number of times the message was claimed, this claim included. */
  attempts: number;
}

export interface ClaimOptions {
  now: number;
  limit: number;
  /** How long the claim holds; after that another worker may claim the message again. */
  leaseMs: number;
  /** Identifies the claimer; complete/retry only act on the caller's own claim. */
  owner: string;
  topics?: readonly string[];
}

/** What the outbox holds at a moment (metrics): read at scrape time, never on a request's path. */
export interface OutboxStats {
  /** Every message held: ready, scheduled for later (availableAt ahead) or claimed. */
  depth: number;
  /** Messages a worker could claim at `now`: available and not claimed, or claimed with a lapsed lease. */
  ready: number;
  /**
   * How long the oldest ready message has waited since it became claimable (its availableAt, or the end of a lease
   * that lapsed since); 0 when none is ready.
   */
  oldestAgeMs: number;
}

export interface OutboxStore {
  enqueue(messages: readonly OutboxInput[]): Promise<void>;
  /** Hands out messages that are available and not claimed (or whose claim expired); no message to two owners. */
  claim(options: ClaimOptions): Promise<OutboxMessage[]>;
  /** Removes the message if `owner` still holds its claim. */
  complete(id: string, owner: string): Promise<void>;
  /** Gives the message back for another try at `retryAt`, if `owner` still holds its claim. */
  retry(id: string, owner: string, retryAt: number, error: string): Promise<void>;
  /** Depth and lag of the whole outbox at `now` (every topic); counts only, nothing is claimed or changed. */
  outboxStats(now: number): Promise<OutboxStats>;
}
