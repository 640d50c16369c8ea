import { StartupError } from '@notofine/errors';
import { Redis } from 'ioredis';

export type RedisRole = 'producer' | 'worker';

/**
 * An ioredis connection for BullMQ.
 *
 * - `producer` (the API): fails fast. Commands are not buffered while disconnected and time out,
 *   so a request that needs the queue answers 503 at once instead of hanging.
 * - `worker`: waits out outages. BullMQ's blocking commands need `maxRetriesPerRequest: null`.
 *
 * The connection is lazy: call {@link connectRedis} to open it and learn whether Redis is there.
 *
 * `autoPipelining`: the commands issued in one turn of the event loop go to Redis in one write, not
 * one write each. For a connection many concurrent requests share one command at a time (the API's
 * rate limiter); not for BullMQ's, whose scripts and transactions are its own business.
 */
export function createRedis(url: string, role: RedisRole, connectionName: string, options: { autoPipelining?: boolean } = {}): Redis {
  // Once connected, reconnect for ever (Redis restarts; BullMQ copies this connection's options for
  // its blocking ones). Before, a failure is final: start-up reports it instead of retrying.
  let connected = false;
  const retryStrategy = (times: number): number | null => (connected ? Math.min(times * 100, 2000) : null);
  const common = { lazyConnect: true, connectionName, connectTimeout: 5000, retryStrategy, enableAutoPipelining: options.autoPipelining ?? false };
  const redis =
    role === 'producer'
      ? new Redis(url, { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2000 })
      : new Redis(url, { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true });
  redis.once('ready', () => {
    connected = true;
  });
  return redis;
}

/** Opens a lazy connection, or throws a {@link StartupError} naming the server and how to start it. */
export async function connectRedis(redis: Redis, url: string): Promise<void> {
  // connect() rejects with a bare "Connection is closed": the reason comes as an 'error' event.
  let reason: unknown;
  const remember = (error: unknown) => {
    reason = error;
  };
  redis.on('error', remember);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    if (redis.status !== 'end') redis.disconnect();
    throw new StartupError(describeRedisError(reason ?? error, url), { cause: reason ?? error });
  } finally {
    redis.off('error', remember);
  }
}

/** Closes a connection: politely (`QUIT`) when Redis answers, at once otherwise. */
export async function closeRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}

/** One line an operator can act on, for an error met while connecting to Redis. */
export function describeRedisError(error: unknown, url: string): string {
  const { hostname, port } = new URL(url);
  const where = `Redis at ${hostname}:${port || 6379}`;
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) {
    return (
      `Cannot reach ${where} (${code}). Start Redis (e.g. \`redis-server --daemonize yes\` or ` +
      '`docker compose up -d redis`) or set REDIS_URL to a running server.'
    );
  }
  if (/NOAUTH|WRONGPASS|invalid password/i.test(message)) {
    return `${where} refused the connection: ${message}. Check the credentials in REDIS_URL.`;
  }
  return `Cannot use ${where}: ${message}`;
}
