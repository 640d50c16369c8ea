import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Redis } from 'ioredis';
import type { Client } from 'pg';
import { connectBenchRedis, connectClient } from './infra';
import type { Settings } from './settings';

/** One statement's share of what PostgreSQL was busy with during a scenario. */
export interface StatementShare {
  readonly statement: string;
  /** pg_stat_activity samples that caught it running (each ~ `intervalMs` of one backend's time). */
  readonly samples: number;
  /** Share of all samples, in %. */
  readonly share: number;
  /** The wait events it was caught in, most frequent first (empty: on CPU). */
  readonly waits: string;
}

export interface StatementStat {
  readonly statement: string;
  readonly calls: number;
  readonly totalMs: number;
  readonly meanMs: number;
  readonly rows: number;
}

export interface CommandStat {
  readonly command: string;
  readonly calls: number;
  readonly usec: number;
  readonly usecPerCall: number;
}

/** What limited a scenario, as PostgreSQL and Redis saw it. */
export interface Observation {
  readonly seconds: number;
  /** Load average (1 min) at the start and the end: other people's work on this machine shows here. */
  readonly load: readonly [number, number];
  /** Sampled from pg_stat_activity every `sampleMs` (active backends of the bench database). */
  readonly activeStatements: readonly StatementShare[];
  /** Average number of active backends (how many PostgreSQL cores the scenario kept busy, waits included). */
  readonly averageActiveBackends: number;
  /** From pg_stat_statements, when PostgreSQL preloads it; null otherwise. */
  readonly statements: readonly StatementStat[] | null;
  /** INFO commandstats deltas (the whole Redis: others' tests show up too). */
  readonly redisCommands: readonly CommandStat[];
  /**
   * CPU over the phase: the machine's busy share (all cores, 100 = every core busy), and the cores
   * PostgreSQL (all its processes, others' databases included) and Redis kept busy on average.
   */
  readonly cpu: { readonly machineBusyPct: number; readonly postgresCores: number; readonly redisCores: number };
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU seconds used so far by every process named `postgres` and `redis-server`. */
function serverCpuSeconds(): { postgres: number; redis: number } {
  const totals = { postgres: 0, redis: 0 };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const kind = name === 'postgres' || name.startsWith('postgres:') ? 'postgres' : name === 'redis-server' ? 'redis' : undefined;
      if (!kind) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime (not the children's: other people's backends that exit would add their whole life).
      totals[kind] += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return totals;
}

const SAMPLE_MS = 50;

/** Whether pg_stat_statements is loaded (it needs shared_preload_libraries) and installed in the bench database. */
export async function pgStatStatementsAvailable(settings: Settings): Promise<{ available: boolean; reason: string }> {
  const client = await connectClient(settings);
  try {
    const { rows } = await client.query<{ libs: string }>(`SELECT current_setting('shared_preload_libraries') AS libs`);
    if (!/\bpg_stat_statements\b/.test(rows[0]?.libs ?? '')) {
      return { available: false, reason: 'pg_stat_statements is not in shared_preload_libraries (changing that needs a PostgreSQL restart): statements are sampled from pg_stat_activity instead' };
    }
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return { available: true, reason: 'pg_stat_statements' };
  } catch (error) {
    return { available: false, reason: `pg_stat_statements unusable: ${(error as Error).message}` };
  } finally {
    await client.end();
  }
}

/** Watches PostgreSQL and Redis while a scenario runs. */
export class Observer {
  private samples = new Map<string, { count: number; waits: Map<string, number> }>();
  private sampleCount = 0;
  private activeTotal = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private started = 0;
  private load0 = 0;
  private commands0 = new Map<string, { calls: number; usec: number }>();
  private statements0 = new Map<string, StatementStat>();
  private jiffies0 = { busy: 0, total: 0 };
  private servers0 = { postgres: 0, redis: 0 };

  private constructor(
    private readonly client: Client,
    private readonly redis: Redis,
    private readonly withStatements: boolean,
  ) {}

  static async start(settings: Settings, withStatements: boolean): Promise<Observer> {
    const observer = new Observer(await connectClient(settings, undefined, 'notofine-bench-observer'), await connectBenchRedis(settings, 'notofine-bench-observer'), withStatements);
    observer.started = Date.now();
    observer.load0 = loadavg()[0]!;
    observer.jiffies0 = machineJiffies();
    observer.servers0 = serverCpuSeconds();
    observer.commands0 = await observer.commandStats();
    if (withStatements) observer.statements0 = await observer.statementStats();
    observer.timer = setInterval(() => void observer.sample(), SAMPLE_MS);
    return observer;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ query: string; wait: string | null }>(
        `SELECT query, CASE WHEN wait_event IS NULL THEN NULL ELSE wait_event_type || ':' || wait_event END AS wait
         FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      );
      this.sampleCount += 1;
      this.activeTotal += rows.length;
      for (const row of rows) {
        const statement = normalise(row.query);
        const entry = this.samples.get(statement) ?? { count: 0, waits: new Map<string, number>() };
        entry.count += 1;
        const wait = row.wait ?? 'CPU';
        entry.waits.set(wait, (entry.waits.get(wait) ?? 0) + 1);
        this.samples.set(statement, entry);
      }
    } catch {
      // a sample lost is no harm
    } finally {
      this.busy = false;
    }
  }

  private async commandStats(): Promise<Map<string, { calls: number; usec: number }>> {
    const info = await this.redis.info('commandstats');
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
    }
    return stats;
  }

  private async statementStats(): Promise<Map<string, StatementStat>> {
    const { rows } = await this.client.query<{ queryid: string; query: string; calls: string; total: number; rows: string }>(
      `SELECT queryid::text, query, calls, total_exec_time AS total, rows FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return new Map(
      rows.map((row) => [row.queryid, { statement: normalise(row.query), calls: Number(row.calls), totalMs: row.total, meanMs: 0, rows: Number(row.rows) }]),
    );
  }

  async stop(top = 6): Promise<Observation> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((resolve) => setTimeout(resolve, 5));
    const seconds = (Date.now() - this.started) / 1000;
    const jiffies = machineJiffies();
    const servers = serverCpuSeconds();
    const cpu = {
      machineBusyPct: Math.round(((jiffies.busy - this.jiffies0.busy) / Math.max(1, jiffies.total - this.jiffies0.total)) * 100),
      postgresCores: round2((servers.postgres - this.servers0.postgres) / seconds),
      redisCores: round2((servers.redis - this.servers0.redis) / seconds),
    };
    const commands1 = await this.commandStats();
    const redisCommands = [...commands1]
      .map(([command, now]) => {
        const before = this.commands0.get(command) ?? { calls: 0, usec: 0 };
        const calls = now.calls - before.calls;
        const usec = now.usec - before.usec;
        return { command, calls, usec, usecPerCall: calls > 0 ? Math.round((usec / calls) * 10) / 10 : 0 };
      })
      .filter((stat) => stat.calls > 0)
      .sort((a, b) => b.usec - a.usec)
      .slice(0, top);
    let statements: StatementStat[] | null = null;
    if (this.withStatements) {
      const after = await this.statementStats();
      statements = [...after]
        .map(([id, now]) => {
          const before = this.statements0.get(id);
          const calls = now.calls - (before?.calls ?? 0);
          const totalMs = now.totalMs - (before?.totalMs ?? 0);
          return { statement: now.statement, calls, totalMs: Math.round(totalMs), meanMs: calls > 0 ? Math.round((totalMs / calls) * 1000) / 1000 : 0, rows: now.rows - (before?.rows ?? 0) };
        })
        .filter((stat) => stat.calls > 0)
        .sort((a, b) => b.totalMs - a.totalMs)
        .slice(0, top);
    }
    const total = [...this.samples.values()].reduce((sum, entry) => sum + entry.count, 0);
    const activeStatements = [...this.samples]
      .map(([statement, entry]) => ({
        statement,
        samples: entry.count,
        share: total > 0 ? Math.round((entry.count / total) * 1000) / 10 : 0,
        waits: [...entry.waits]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([wait, count]) => `${wait} ${Math.round((count / entry.count) * 100)}%`)
          .join(', '),
      }))
      .sort((a, b) => b.samples - a.samples)
      .slice(0, top);
    await this.client.end();
    await this.redis.quit();
    return {
      seconds: Math.round(seconds * 10) / 10,
      load: [round2(this.load0), round2(loadavg()[0]!)],
      activeStatements,
      averageActiveBackends: this.sampleCount > 0 ? Math.round((this.activeTotal / this.sampleCount) * 100) / 100 : 0,
      statements,
      redisCommands,
      cpu,
    };
  }
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/** A statement's text on one line, literals as they come (the services send parameters), cut short. */
export function normalise(query: string): string {
  const oneLine = query.replace(/\s+/g, ' ').trim();
  return oneLine.length > 160 ? `${oneLine.slice(0, 157)}...` : oneLine;
}
