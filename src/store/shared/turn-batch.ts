/**
 * Collects what callers ask for during one turn of the event loop and hands it on in chunks once the turn is
 * over: setImmediate runs after the poll phase, so every request read from the sockets in this turn can join.
 */
export class TurnBatch<T> {
  private items: T[] = [];
  private scheduled = false;
  private readonly flushLater = () => this.flush();

  constructor(
    /** Most items per chunk. */
    private readonly max: number,
    private readonly run: (batch: T[]) => void,
  ) {}

  add(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushLater);
  }

  private flush(): void {
    this.scheduled = false;
    while (this.items.length > 0) this.run(this.items.splice(0, this.max));
  }
}
