import type { Observation } from './observe';

/** One line of the table: a figure, the baseline measured in the same run, and the target. */
export interface Row {
  readonly scenario: string;
  readonly figure: string;
  readonly value: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  /** `ok`, `MISS`, or empty when the figure has no target. */
  readonly verdict: string;
}

export interface ScenarioResult {
  readonly name: string;
  readonly rows: Row[];
  /** Every measured number, for bench/last.json. */
  readonly details: Record<string, unknown>;
  /** What PostgreSQL and Redis were busy with, per phase. */
  readonly observations: Record<string, Observation>;
}

export function row(scenario: string, figure: string, value: string, extra: Partial<Omit<Row, 'scenario' | 'figure' | 'value'>> = {}): Row {
  return { scenario, figure, value, baseline: extra.baseline ?? '', ratio: extra.ratio ?? '', target: extra.target ?? '', verdict: extra.verdict ?? '' };
}

export const verdict = (ok: boolean): string => (ok ? 'ok' : 'MISS');

/** The rows as a Markdown table (readable in a terminal, pasteable in BENCHMARKS.md). */
export function renderTable(rows: readonly Row[]): string {
  const header = ['scenario', 'figure', 'value', 'baseline (same run)', 'ratio', 'target', ''];
  const cells = rows.map((r) => [r.scenario, r.figure, r.value, r.baseline, r.ratio, r.target, r.verdict]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: readonly string[]) => `| ${values.map((value, i) => value.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** The top statements and Redis commands of each phase, as text. */
export function renderObservations(results: readonly ScenarioResult[]): string {
  const out: string[] = [];
  for (const result of results) {
    for (const [phase, obs] of Object.entries(result.observations)) {
      out.push(
        `\n### ${result.name} / ${phase}: ${obs.seconds} s, load ${obs.load[0]} → ${obs.load[1]}; machine CPU ${obs.cpu.machineBusyPct}% busy, PostgreSQL ${obs.cpu.postgresCores} cores, Redis ${obs.cpu.redisCores} cores; ${obs.averageActiveBackends} PostgreSQL backends active on average`,
      );
      if (obs.statements) {
        out.push('pg_stat_statements (top by total time):');
        for (const s of obs.statements) out.push(`  ${String(s.totalMs).padStart(8)} ms  ${String(s.calls).padStart(8)} calls  ${String(s.meanMs).padStart(8)} ms/call  ${s.statement}`);
      }
      out.push('PostgreSQL, sampled from pg_stat_activity (share of active samples; waits):');
      for (const s of obs.activeStatements) out.push(`  ${`${s.share}%`.padStart(6)}  ${s.statement}  [${s.waits}]`);
      out.push('Redis INFO commandstats (top by time):');
      for (const c of obs.redisCommands) out.push(`  ${c.command.padEnd(12)} ${String(c.calls).padStart(9)} calls  ${String(Math.round(c.usec / 1000)).padStart(7)} ms  ${c.usecPerCall} µs/call`);
    }
  }
  return out.join('\n');
}
