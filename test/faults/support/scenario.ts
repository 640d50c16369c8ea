import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { burst, judge, type Verdict } from './ledger';
import { freePort } from './ports';
import type { PrivatePostgres } from './private-postgres';
import type { PrivateRedis } from './private-redis';
import { RecordingProvider } from './recording-provider';
import { ServiceProcess } from './services';

const root = join(__dirname, '..', '..', '..');
const run = promisify(execFile);
export const API_KEY = 'nfk_faults_0123456789abcdefghijklmnop';
export const DATABASE = 'notofine_faults';

/** The settings every scenario runs with: short timeouts, so that recovery takes seconds. */
const BASE_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  LOG_FORMAT: 'json',
  HOST: '127.0.0.1',
  BOOTSTRAP_API_KEY: API_KEY,
  EMAIL_PROVIDER: 'sendgrid',
  SENDGRID_API_KEY: 'SG.faults',
  EMAIL_FROM: 'Notofine <no-reply@notofine.test>',
  DELIVERY_ATTEMPTS: '8',
  DELIVERY_BACKOFF_MS: '100',
  PROVIDER_TIMEOUT_MS: '1000',
  DELIVERY_LEASE_MS: '4000',
  WORKER_LOCK_MS: '2000',
  WORKER_CONCURRENCY: '4',
  MAX_THROTTLES: '1000',
  SWEEP_INTERVAL_MS: '1000',
  SWEEP_GRACE_MS: '2000',
  SHUTDOWN_TIMEOUT_MS: '5000',
  DATABASE_POOL_SIZE: '10',
  // Bursts come from one key, faster than a client should: the scenarios test delivery, not limits.
  RATE_LIMIT: '1000000/1s',
};

/** One scenario's world: its own schema and queue prefix on the private servers, a provider, the services. */
export class Scenario {
  readonly provider: RecordingProvider;
  readonly api: ServiceProcess;
  readonly workers: ServiceProcess[] = [];
  private constructor(
    readonly name: string,
    readonly schema: string,
    private readonly env: Record<string, string>,
    readonly userIds: number[],
    provider: RecordingProvider,
    apiPort: number,
  ) {
    this.provider = provider;
    this.api = new ServiceProcess('api', { ...env, PORT: String(apiPort), HEALTH_PORT: '0' }, apiPort);
  }

  static async open(name: string, postgres: PrivatePostgres, redis: PrivateRedis, overrides: Record<string, string> = {}): Promise<Scenario> {
    const schema = `faults_${name.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
    const provider = await RecordingProvider.start();
    try {
      return await Scenario.prepare(name, schema, postgres, redis, overrides, provider);
    } catch (error) {
      await provider.close();
      throw error;
    }
  }

  private static async prepare(
    name: string,
    schema: string,
    postgres: PrivatePostgres,
    redis: PrivateRedis,
    overrides: Record<string, string>,
    provider: RecordingProvider,
  ): Promise<Scenario> {
    const env = {
      ...BASE_ENV,
      DATABASE_URL: postgres.url(DATABASE),
      DATABASE_SCHEMA: schema,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: schema,
      SENDGRID_BASE_URL: provider.url,
      ...overrides,
    };
    await run(process.execPath, [join(root, 'packages', 'db', 'dist', 'cli', 'migrate.js')], { env: { PATH: process.env.PATH ?? '', ...env } });
    const client = new Client({ connectionString: postgres.url(DATABASE) });
    await client.connect();
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO "${schema}".users (full_name, email) SELECT 'Client ' || g, 'client' || g || '@example.test' FROM generate_series(1, 20) g RETURNING id`,
    );
    await client.end();
    return new Scenario(name, schema, env, rows.map((row) => Number(row.id)), provider, await freePort());
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.api.port}`;
  }

  /** Adds (and starts) a worker process. */
  async startWorker(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const worker = new ServiceProcess('worker', { ...this.env, HEALTH_PORT: String(port), ...extraEnv }, port);
    await worker.start();
    this.workers.push(worker);
    return worker;
  }

  burst(count: number, onProgress?: (done: number) => void | Promise<void>, concurrency = 16) {
    return burst({ apiUrl: this.apiUrl, apiKey: API_KEY, userIds: this.userIds, count, concurrency, ...(onProgress && { onProgress }) });
  }

  judge(accepted: readonly number[], deadlineMs = 60_000): Promise<Verdict> {
    return judge({ databaseUrl: this.env.DATABASE_URL!, schema: this.schema, accepted, provider: this.provider, deadlineMs });
  }

  /** The notification rows of the scenario, for checks beyond the verdict. */
  async rows(): Promise<Array<{ id: number; status: string; attempts: number }>> {
    const client = new Client({ connectionString: this.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; status: string; attempts: number }>(`SELECT id, status, attempts FROM "${this.schema}".notifications ORDER BY id`);
      return rows.map((row) => ({ id: Number(row.id), status: row.status, attempts: row.attempts }));
    } finally {
      await client.end();
    }
  }

  /** Stops whatever still runs (SIGKILL: the scenario is over) and the provider. */
  async close(): Promise<void> {
    await Promise.all([this.api, ...this.workers].filter((service) => service.running).map((service) => service.signal('SIGKILL')));
    await this.provider.close();
  }
}
