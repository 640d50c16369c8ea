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

/** What reporting a connection's state needs of a logger (the services' own logger is one). */
export interface ConnectionLogger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
}

/** Error codes of a server that cannot be reached (refused, reset, unknown, timed out). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** What ioredis and BullMQ say of a command that met a connection down or closing. */
const UNREACHABLE_MESSAGES = [/^Connection is closed\.?$/, /Stream isn't writeable/, /max retries per request/i, /^Command timed out$/, /ECONNREFUSED/];

/**
 * Whether an error only says that Redis cannot be reached right now. Those are reported once per
 * change of state by {@link watchRedisConnection}, not one by one.
 */
export function isRedisConnectionError(error: unknown): boolean {
  // Not `instanceof Error`: errors of another realm (Node's own, under Jest's) are errors too.
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  return name === 'ConnectionClosedError' || name === 'MaxRetriesPerRequestError' || (typeof message === 'string' && UNREACHABLE_MESSAGES.some((pattern) => pattern.test(message)));
}

/**
 * Reports the outages of a connection through the logger, once per change of state: `redis
 * connection lost` when it goes, `redis still unreachable` every `stillDownEveryMs` while it stays
 * away, `redis connection back` when it returns, each on one line with the reason. ioredis emits
 * an error at each reconnection attempt (and prints it, stack and all, when nobody listens): this
 * listens, and keeps only the last one as the reason. Another error, met while connected, is
 * logged as it comes.
 */
export function watchRedisConnection(redis: Redis, options: { connection: string; logger: ConnectionLogger; stillDownEveryMs: number }): void {
  const { connection, logger, stillDownEveryMs } = options;
  let downSince: number | null = null;
  let reason: string | undefined;
  let reminder: NodeJS.Timeout | undefined;
  const fields = () => ({ connection, ...(reason !== undefined && { reason }) });

  redis.on('error', (error: Error) => {
    // While down, whatever keeps it from coming back (refused, a password changed) is the reason.
    if (downSince !== null || isRedisConnectionError(error)) reason = describeConnectionError(error);
    else logger.error('redis error', { connection, error });
  });
  // Only a connection lost on its own reconnects: closing it (quit, disconnect) ends it instead.
  redis.on('reconnecting', () => {
    if (downSince !== null) return;
    downSince = Date.now();
    logger.warn('redis connection lost, reconnecting', fields());
    reminder = setInterval(() => logger.warn('redis still unreachable', { ...fields(), down_for_s: Math.round((Date.now() - downSince!) / 1000) }), stillDownEveryMs);
    reminder.unref();
  });
  redis.on('ready', () => {
    if (downSince === null) return;
    clearInterval(reminder);
    logger.info('redis connection back', { connection, down_for_ms: Date.now() - downSince });
    downSince = null;
    reason = undefined;
  });
  redis.on('end', () => clearInterval(reminder));
}

/**
 * Logs the `error` events of a BullMQ queue or worker, but for those that only say Redis cannot be
 * reached (its connection's watcher reports the outage). Without a listener, BullMQ prints each
 * one to standard error, stack and all, at every reconnection attempt.
 */
export function logQueueErrors(emitter: { on(event: 'error', listener: (error: Error) => void): unknown }, logger: ConnectionLogger, fields: Record<string, unknown>): void {
  emitter.on('error', (error) => {
    if (!isRedisConnectionError(error)) logger.error('queue error', { ...fields, error });
  });
}

/** An error's code, or its message: one short line. */
function describeConnectionError(error: Error): string {
  const { code } = error as { code?: unknown };
  return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
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
