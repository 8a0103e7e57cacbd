/**
 * Metrics over node:cluster (WORKERS > 1). A scrape lands on one worker, but each worker only counts what it
 * served: the worker asks the primary, the primary collects every worker's registries through prom-client's
 * AggregatorRegistry (its own IPC messages) and answers with the aggregate (histograms and counters summed, the
 * outbox gauges their largest value, process metrics by prom-client's rules). The primary keeps no metrics itself.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const ASK = 'basket:metrics-ask';
const ANSWER = 'basket:metrics-answer';

interface Ask {
  type: typeof ASK;
  id: number;
}
interface Answer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

const isAsk = (m: unknown): m is Ask => typeof m === 'object' && m !== null && (m as Ask).type === ASK && typeof (m as Ask).id === 'number';
const isAnswer = (m: unknown): m is Answer =>
  typeof m === 'object' && m !== null && (m as Answer).type === ANSWER && typeof (m as Answer).id === 'number';

/** Primary: answers every worker's ask with the metrics of all workers. Call once, before forking. */
export function answerWorkersMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isAsk(message)) return;
    const reply = (answer: Omit<Answer, 'type' | 'id'>) => {
      // the worker may have gone meanwhile; it asks again at the next scrape
      if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, ...answer });
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/** Worker: the registries the primary collects from this process (prom-client answers its requests). */
export function shareWithPrimary(registries: Registry[]): void {
  AggregatorRegistry.setRegistries(registries);
  // constructing one installs prom-client's listener for the primary's requests (once per process)
  new AggregatorRegistry();
}

let nextId = 0;
const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
let listening = false;

/** Worker: the aggregate over every worker, from the primary; rejects after `timeoutMs` without an answer. */
export function askPrimaryForMetrics(timeoutMs: number): Promise<string> {
  const send = process.send?.bind(process);
  if (send === undefined) return Promise.reject(new Error('not a cluster worker: no IPC channel to the primary'));
  if (!listening) {
    listening = true;
    process.on('message', (message: unknown) => {
      if (!isAnswer(message)) return;
      const pending = waiting.get(message.id);
      if (pending === undefined) return; // answered after its deadline
      waiting.delete(message.id);
      if (message.text !== undefined) pending.resolve(message.text);
      else pending.reject(new Error(`the primary could not collect the workers' metrics: ${message.error ?? 'no answer'}`));
    });
  }
  const id = nextId++;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`the primary did not answer with the workers' metrics within ${timeoutMs} ms`));
    }, timeoutMs);
    waiting.set(id, {
      resolve: (text) => {
        clearTimeout(timer);
        resolve(text);
      },
      reject: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
    const ask: Ask = { type: ASK, id };
    send(ask);
  });
}
