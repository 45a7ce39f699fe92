import type { SshdHarness } from '@tether/testkit';
import type { Broker, Login } from './broker.ts';

export interface BenchContext {
  quick: boolean;
  tmpDir: string;
  sshd: SshdHarness;
  /** Private key file (plain ed25519) that the sshd harness authorizes, for `ssh -i`. */
  keyPath: string;
  broker: Broker;
  /** `pglite` (embedded, the quick start's default) or `postgres` (a throwaway local cluster). */
  database: 'pglite' | 'postgres';
  admin: Login;
  /** The user whose terminals the OpenSSH figures open. */
  user: Login;
  /** Starts another broker configured like the shared one (same database kind, node flags). */
  startBroker(env?: Record<string, string>): Promise<Broker>;
  log(line: string): void;
}

export interface Metric {
  figure: string;
  metric: string;
  unit: string;
  broker: number | null;
  reference: number | null;
  /** broker / reference, when both exist. */
  ratio: number | null;
  target: string;
  pass: boolean | null;
}

export interface FigureResult {
  id: string;
  metrics: Metric[];
  /** Raw per-round data for the JSON file. */
  detail: Record<string, unknown>;
}
