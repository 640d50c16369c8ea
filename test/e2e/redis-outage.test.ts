import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTestEnvironment, TEST_API_KEY, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { freePort } from '../faults/support/ports';
import { PrivateRedis } from '../faults/support/private-redis';

// The built API and worker, run as an operator runs them, on a Redis of the test's own that it
// kills and starts again: what the processes print while it is away.
const root = join(__dirname, '..', '..');

/** A service as a child process, its standard output and error kept apart. */
class Service {
  readonly stdout: string[] = [];
  stderr = '';
  private readonly child: ChildProcess;
  private readonly exit: Promise<unknown>;

  constructor(
    name: 'api' | 'worker',
    env: Record<string, string>,
    readonly port: number,
  ) {
    const script = join(root, 'services', name, 'dist', 'main.js');
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
    this.child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      this.stdout.push(...lines);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exit = new Promise((resolve) => this.child.once('exit', resolve));
  }

  ready(): Promise<boolean> {
    return fetch(`http://127.0.0.1:${this.port}/readyz`).then((response) => response.ok, () => false);
  }

  /** Its log entries (each line of standard output must be one). */
  entries(): Array<Record<string, unknown>> {
    return this.stdout.filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  said(message: string, connection: string): number {
    return this.entries().filter((entry) => entry.message === message && entry.connection === connection).length;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exit;
  }
}

let env: TestEnvironment;
let redis: PrivateRedis;
const services: Service[] = [];
beforeAll(async () => {
  [env, redis] = await Promise.all([createTestEnvironment(), PrivateRedis.start()]);
});
afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()));
  await redis?.stop();
  await env?.cleanup();
});

it('a Redis outage is logged once per change of state on each connection, through the logger, and no raw stack reaches either output', async () => {
  const variables = {
    NODE_ENV: 'test',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    DATABASE_URL: env.config.database.url,
    DATABASE_SCHEMA: env.config.database.schema,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: env.config.redis.queuePrefix,
    OUTBOX_DIR: env.outboxDir,
    BOOTSTRAP_API_KEY: TEST_API_KEY,
    REDIS_DOWN_LOG_INTERVAL_MS: '1000',
  };
  const [apiPort, healthPort] = await Promise.all([freePort(), freePort()]);
  const api = new Service('api', { ...variables, PORT: String(apiPort) }, apiPort);
  const worker = new Service('worker', { ...variables, HEALTH_PORT: String(healthPort) }, healthPort);
  services.push(api, worker);
  await waitFor('both services to be ready', async () => (await api.ready()) && (await worker.ready()), { timeoutMs: 30_000, intervalMs: 100 });

  await redis.pause();
  // Each connection reconnects several times a second meanwhile.
  await waitFor(
    'each connection to say twice that Redis is still unreachable',
    () => api.said('redis still unreachable', 'queues') >= 2 && api.said('redis still unreachable', 'rate limits') >= 2 && worker.said('redis still unreachable', 'queues') >= 2,
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  await redis.resume();
  await waitFor(
    'each connection to say that Redis is back',
    () => api.said('redis connection back', 'queues') + api.said('redis connection back', 'rate limits') + worker.said('redis connection back', 'queues') === 3,
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  await Promise.all([api.stop(), worker.stop()]);

  expect({ api: api.stderr, worker: worker.stderr }).toEqual({ api: '', worker: '' });
  for (const [service, connection] of [[api, 'queues'], [api, 'rate limits'], [worker, 'queues']] as const) {
    expect({ connection, lost: service.said('redis connection lost, reconnecting', connection), back: service.said('redis connection back', connection) }).toEqual({ connection, lost: 1, back: 1 });
    const reminders = service.entries().filter((entry) => entry.message === 'redis still unreachable' && entry.connection === connection);
    expect(reminders[0]).toMatchObject({ level: 'warn', reason: expect.stringContaining('ECONNREFUSED'), down_for_s: expect.any(Number) });
  }
  // The refusals of each reconnection attempt are nowhere else, neither as an entry nor as a stack.
  const stateLines = new Set(['redis connection lost, reconnecting', 'redis still unreachable', 'redis connection back']);
  for (const service of [api, worker]) {
    const others = service.entries().filter((entry) => !stateLines.has(entry.message as string));
    expect(others.filter((entry) => JSON.stringify(entry).includes('ECONNREFUSED'))).toEqual([]);
  }
}, 120_000);
