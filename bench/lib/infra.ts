import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, request, type Agent, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDataSource, createDatabaseIfMissing, withDefaultUser } from '@notofine/db';
import { createRedis } from '@notofine/queue';
import type { Redis } from 'ioredis';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { ROOT, type Settings } from './settings';

/** The push-token key the bench's services seal and open tokens with (production requires one). */
export const BENCH_PUSH_TOKEN_KEY = { id: 'bench', key: Buffer.alloc(32, 'notofine-bench-push-token-key') };
export const PUSH_TOKEN_KEYS_ENV = `${BENCH_PUSH_TOKEN_KEY.id}:${BENCH_PUSH_TOKEN_KEY.key.toString('base64')}`;
/** The API's bootstrap key, `admin` scope. */
export const BENCH_API_KEY = 'nfk_bench_0123456789abcdefghijklmnop';

const SCOPE_PREFIX = 'bench_';

/**
 * The environment of a process the bench starts: the variables given, with PATH and HOME to find
 * its tools, and nothing else of the bench's own environment.
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env };
}

/** A scenario's own slice of PostgreSQL (a schema) and Redis (a BullMQ prefix), removed by `cleanup`. */
export interface Scope {
  /** Schema name and queue prefix. */
  readonly id: string;
  readonly settings: Settings;
  /** A pool on the schema, for arranging rows and checking them. */
  readonly db: DataSource;
  /** The environment every service process of the scenario shares. */
  readonly serviceEnv: Record<string, string>;
  /** A single connection on the schema for bulk loads and EXPLAIN (session settings stay on it). */
  client(): Promise<Client>;
  cleanup(): Promise<void>;
}

/** A plain pg client on the bench database, with `search_path` on `schema` when given. */
export async function connectClient(settings: Settings, schema?: string, applicationName = 'notofine-bench'): Promise<Client> {
  const client = new Client({
    connectionString: withDefaultUser(settings.databaseUrl),
    application_name: applicationName,
    ...(schema && { options: `-c search_path=${schema} -c timezone=UTC` }),
  });
  await client.connect();
  return client;
}

export function connectBenchRedis(settings: Settings, name = 'notofine-bench'): Promise<Redis> {
  const redis = createRedis(settings.redisUrl, 'worker', name);
  return redis.connect().then(() => redis);
}

/** Creates the bench database if needed, and removes what runs killed half-way left behind. */
export async function prepareDatabase(settings: Settings): Promise<void> {
  if (await createDatabaseIfMissing(settings.databaseUrl)) console.log(`created database ${new URL(settings.databaseUrl).pathname.slice(1)}`);
  const client = await connectClient(settings);
  const redis = await connectBenchRedis(settings);
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE '${SCOPE_PREFIX}%'`);
    for (const { name } of rows) {
      if (isAlive(name)) continue;
      console.log(`removing ${name}, left by an interrupted run`);
      await client.query(`DROP SCHEMA "${name}" CASCADE`);
      await deleteKeys(redis, `${name}:*`);
    }
  } finally {
    await client.end();
    await redis.quit();
  }
}

/** Whether the run that created a scope (its pid is in the name) is still running. */
function isAlive(scope: string): boolean {
  const pid = Number(/^bench_[a-z]+_(\d+)_/.exec(scope)?.[1]);
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SCAN + UNLINK of every key matching `pattern`; returns how many were deleted. */
export async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/**
 * Creates a scenario's schema with the service's own migration command (`node
 * packages/db/dist/cli/migrate.js`), and the environment its API and worker processes run with.
 */
export async function createScope(settings: Settings, scenario: string): Promise<Scope> {
  const id = `${SCOPE_PREFIX}${scenario}_${process.pid}_${randomBytes(3).toString('hex')}`;
  // Production mode, as deployed (JSON logs, real providers): it requires its secrets, given here.
  const serviceEnv: Record<string, string> = {
    NODE_ENV: 'production',
    UNSUBSCRIBE_SECRET: 'notofine-bench-unsubscribe-secret-0123456789',
    DATABASE_URL: settings.databaseUrl,
    DATABASE_SCHEMA: id,
    REDIS_URL: settings.redisUrl,
    QUEUE_PREFIX: id,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    PUSH_TOKEN_KEYS: PUSH_TOKEN_KEYS_ENV,
    BOOTSTRAP_API_KEY: BENCH_API_KEY,
    RATE_LIMIT: '1000000/1s',
    SMS_DAILY_CAP: '0',
    SHUTDOWN_TIMEOUT_MS: '10000',
    // BENCH_ENV_<NAME>=value passes NAME=value to every service process: e.g.
    // BENCH_ENV_DATABASE_POOL_SIZE=30 or BENCH_ENV_WORKER_CONCURRENCY=100, to try a setting.
    ...Object.fromEntries(
      Object.entries(process.env)
        .filter((entry): entry is [string, string] => entry[0].startsWith('BENCH_ENV_') && entry[1] !== undefined)
        .map(([name, value]) => [name.slice('BENCH_ENV_'.length), value]),
    ),
  };
  const migrate = spawnSync(process.execPath, ['packages/db/dist/cli/migrate.js'], {
    cwd: ROOT,
    env: childEnv({ ...serviceEnv, NODE_ENV: 'development' }),
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migrations failed for ${id}: ${migrate.stderr || migrate.stdout}`);

  const db = createDataSource({ url: settings.databaseUrl, schema: id, poolSize: 4 }, { applicationName: 'notofine-bench' });
  await db.initialize();
  const clients: Client[] = [];
  return {
    id,
    settings,
    db,
    serviceEnv,
    async client() {
      const client = await connectClient(settings, id);
      clients.push(client);
      return client;
    },
    async cleanup() {
      for (const client of clients) await client.end().catch(() => undefined);
      await db.query(`DROP SCHEMA "${id}" CASCADE`);
      await db.destroy();
      const redis = await connectBenchRedis(settings, 'notofine-bench-cleanup');
      try {
        await deleteKeys(redis, `${id}:*`);
      } finally {
        await redis.quit();
      }
    },
  };
}

/** Whether `table` has `column` in the scope's schema (the schema evolves; the bench adapts). */
export async function hasColumn(db: DataSource, table: string, column: string): Promise<boolean> {
  const rows: unknown[] = await db.query(
    `SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`,
    [table, column],
  );
  return rows.length > 0;
}

/**
 * Users default to quiet hours in newer schemas: a benchmark running at night would see every
 * SMS and push held until morning. The bench's users have none.
 */
export async function clearQuietHours(db: DataSource): Promise<void> {
  if (await hasColumn(db, 'users', 'quiet_hours_start')) await db.query(`UPDATE users SET quiet_hours_start = NULL, quiet_hours_end = NULL`);
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP request on the loopback (keep-alive when given an agent). */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; agent?: Agent; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
