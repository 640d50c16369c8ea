import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/** The repository's root: the built services and packages are found from here. */
export const ROOT = resolve(__dirname, '..', '..');
export const BENCH_DIR = resolve(ROOT, 'bench');

export const SCENARIOS = ['delivery', 'ingest', 'reminders', 'reads', 'memory'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What one run measures, from the command line and BENCH_* variables. */
export interface Settings {
  readonly quick: boolean;
  readonly scenarios: readonly ScenarioName[];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** No-op jobs of each bare BullMQ baseline. */
  readonly baselineJobs: number;
  /** Scenario 1: pending notifications delivered. */
  readonly deliveryN: number;
  /** Scenario 1: worker processes. */
  readonly deliveryWorkers: number;
  /** Scenario 2: seconds of load, its connections, and what generates it. */
  readonly ingestSeconds: number;
  readonly ingestConnections: number;
  readonly loadTool: 'wrk' | 'autocannon';
  /** Scenario 3: due reminders. */
  readonly reminders: number;
  /** Scenario 4: notification rows of the small and the large table. */
  readonly readsSmallRows: number;
  readonly readsLargeRows: number;
  /** Scenario 4: timed requests per table size (seconds of them under wrk), and how many run at once. */
  readonly readsRequests: number;
  readonly readsSeconds: number;
  readonly readsConcurrency: number;
  /** Scenario 5: warm-up and soak durations, and the offered load (requests per second). */
  readonly warmupSeconds: number;
  readonly soakSeconds: number;
  readonly soakRate: number;
  /** Children run with `--cpu-prof`; scenario 3 profiles the bench process itself. */
  readonly profile: boolean;
  readonly skipBuild: boolean;
}

function integer(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number (got "${raw}")`);
  return value;
}

function flag(name: string): boolean {
  return ['1', 'true', 'yes'].includes((process.env[name] ?? '').toLowerCase());
}

/**
 * wrk when it is installed (C, event-driven: a fraction of a core, where autocannon, in Node, takes
 * most of one, and on two cores that core is PostgreSQL's and Redis's); autocannon otherwise, or
 * when `BENCH_LOAD_TOOL=autocannon`.
 */
function loadTool(): 'wrk' | 'autocannon' {
  const asked = process.env.BENCH_LOAD_TOOL;
  if (asked !== undefined && asked !== '' && asked !== 'wrk' && asked !== 'autocannon') throw new Error(`BENCH_LOAD_TOOL must be wrk or autocannon (got "${asked}")`);
  if (asked === 'autocannon') return 'autocannon';
  const installed = spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (asked === 'wrk' && !installed) throw new Error('BENCH_LOAD_TOOL=wrk, but wrk is not installed (apt-get install wrk)');
  return installed ? 'wrk' : 'autocannon';
}

/** Reads `--quick`, `--only=a,b`, `--profile` and the BENCH_* variables. */
export function readSettings(argv: readonly string[] = process.argv.slice(2)): Settings {
  const quick = argv.includes('--quick') || flag('BENCH_QUICK');
  const onlyArg = argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length) ?? process.env.BENCH_ONLY ?? '';
  const only = onlyArg
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario "${name}": choose among ${SCENARIOS.join(', ')}`);
  }
  const unknown = argv.filter((arg) => !['--quick', '--profile', '--skip-build'].includes(arg) && !arg.startsWith('--only='));
  if (unknown.length > 0) throw new Error(`unknown argument(s): ${unknown.join(' ')} (use --quick, --profile, --skip-build, --only=${SCENARIOS.join(',')})`);
  return {
    quick,
    scenarios: only.length > 0 ? (only as ScenarioName[]) : SCENARIOS,
    databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://127.0.0.1:5432/notofine_bench',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    baselineJobs: integer('BENCH_BASELINE_JOBS', quick ? 5_000 : 20_000),
    deliveryN: integer('BENCH_DELIVERY', quick ? 2_000 : 20_000),
    deliveryWorkers: Math.max(1, integer('BENCH_WORKERS', 1)),
    ingestSeconds: integer('BENCH_INGEST_SECONDS', quick ? 5 : 15),
    ingestConnections: integer('BENCH_INGEST_CONNECTIONS', 100),
    loadTool: loadTool(),
    reminders: integer('BENCH_REMINDERS', quick ? 20_000 : 1_000_000),
    readsSmallRows: integer('BENCH_READS_SMALL', 10_000),
    readsLargeRows: integer('BENCH_READS_LARGE', quick ? 1_000_000 : 10_000_000),
    readsRequests: integer('BENCH_READS_REQUESTS', quick ? 1_000 : 3_000),
    readsSeconds: integer('BENCH_READS_SECONDS', quick ? 5 : 10),
    readsConcurrency: Math.max(1, integer('BENCH_READS_CONCURRENCY', 4)),
    warmupSeconds: integer('BENCH_WARMUP_SECONDS', quick ? 5 : 30),
    soakSeconds: integer('BENCH_SOAK_SECONDS', quick ? 20 : 300),
    soakRate: Math.max(1, integer('BENCH_SOAK_RATE', 300)),
    profile: argv.includes('--profile') || flag('BENCH_PROFILE'),
    skipBuild: argv.includes('--skip-build') || flag('BENCH_SKIP_BUILD'),
  };
}
