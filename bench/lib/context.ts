import type { Loopbacks } from './loopbacks';
import type { Settings } from './settings';

/** What every scenario of a run shares. */
export interface Context {
  readonly settings: Settings;
  readonly loopbacks: Loopbacks;
  /** Whether pg_stat_statements can be read (else statements are sampled from pg_stat_activity). */
  readonly pgStatements: boolean;
  /** Where the children write their CPU profiles (`--profile`), else undefined. */
  readonly profileDir: string | undefined;
}
