/** What bench/run.ts measures: one named load, its requests, and the hooks a scenario module may need. */
import type autocannon from 'autocannon';

export interface Scenario {
  name: string;
  title: string;
  target: 'ceiling' | 'service';
  requests: autocannon.Request[];
  /** Run only when named in --scenarios: a measurement of the bench itself, not of the service. */
  diagnostic?: boolean;
  /** Makes each run's per-connection setup (autocannon's setupClient), e.g. a connection's own request list. */
  perConnection?: () => (client: autocannon.Client) => void;
  /** Measured while attackers hold slow and idle connections (bench/slow-attack.mjs); run only when named. */
  attack?: boolean;
  /**
   * Runs against the service before each of the scenario's runs (warm-up and measured), outside the measured time:
   * state the requests need that only the running service can make (an access token, baskets to change).
   */
  prepare?: (base: string) => Promise<void>;
  /** Connections of this scenario when not --connections (e.g. a listing a few clients page through at once). */
  connections?: number;
  /** A line about the measured run beyond its figures (e.g. how many pages followed a cursor); logged after it. */
  describe?: () => string;
}
