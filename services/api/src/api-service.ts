import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { loadConfig, type Config } from '@notofine/config';
import { StartupError } from '@notofine/errors';
import { createLogger, type Logger } from '@notofine/logger';
import { Metrics } from '@notofine/metrics';
import { connectNotificationService, type NotificationService } from '@notofine/notifications';
import { closeRedis, connectRedis, createRedis, watchRedisConnection } from '@notofine/queue';
import type { Express } from 'express';
import { ensureApiKey } from './api-keys/api-keys';
import { createApp } from './app';
import { problemType } from './http/problem';

export interface ApiServiceOptions {
  /** Read from the environment when absent. */
  readonly config?: Config;
  readonly logger?: Logger;
  /** Whether to listen on the configured port (default true); tests drive `app` directly. */
  readonly listen?: boolean;
}

export interface ApiService {
  readonly app: Express;
  readonly server: Server | null;
  readonly notifications: NotificationService;
  /** Fails readiness, stops accepting connections, lets in-flight requests finish, closes everything. */
  stop(): Promise<void>;
}

/** Connects to PostgreSQL and Redis, makes sure the bootstrap key exists, and serves the API. */
export async function start(options: ApiServiceOptions = {}): Promise<ApiService> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger({ service: 'api', level: config.log.level, format: config.log.format });

  const connected = await connectNotificationService(config, {
    name: 'notofine-api',
    redisRole: 'producer',
    logger,
    ...(config.faults.crashAfterCommit !== undefined && { onCommitted: crashAfter(config.faults.crashAfterCommit) }),
  });
  const { service: notifications, dataSource, redis, queues } = connected;
  // Every request counts against its caller's limit: those counts share writes on a connection of their own.
  const limitsRedis = createRedis(config.redis.url, 'producer', 'notofine-api-limits', { autoPipelining: true });
  const close = async () => {
    await connected.close();
    await closeRedis(limitsRedis);
  };
  try {
    await connectRedis(limitsRedis, config.redis.url);
    watchRedisConnection(limitsRedis, { connection: 'rate limits', logger, stillDownEveryMs: config.redis.downLogIntervalMs });
    if (config.bootstrapApiKey && (await ensureApiKey(dataSource.manager, 'bootstrap', config.bootstrapApiKey))) {
      logger.info('bootstrap API key created');
    }
  } catch (error) {
    await close();
    throw error;
  }

  let shuttingDown = false;
  let stopped: Promise<void> | undefined;
  const metrics = new Metrics('api');
  const app = createApp({ config, logger, dataSource, notifications, redis, limitsRedis, queues, metrics }, { isShuttingDown: () => shuttingDown });

  let server: Server | null = null;
  if (options.listen !== false) {
    try {
      server = await listen(app, config.http.host, config.http.port);
    } catch (error) {
      await close();
      throw error;
    }
    logger.info('api listening', { host: config.http.host, port: config.http.port });
  }

  return {
    app,
    server,
    notifications,
    stop() {
      // Once: a second call (a second signal, a test's cleanup) waits for the first.
      stopped ??= (async () => {
        shuttingDown = true;
        logger.info('api stopping');
        if (server) await closeServer(server, config.shutdownTimeoutMs);
        await close();
        logger.info('api stopped');
      })();
      return stopped;
    },
  };
}

/**
 * The fault-injection hook (tests only): the process dies, as from SIGKILL, once `count`
 * notifications were committed and before the last of them are queued.
 */
function crashAfter(count: number): (notifications: readonly unknown[]) => void {
  let committed = 0;
  return (notifications) => {
    committed += notifications.length;
    if (committed >= count) process.kill(process.pid, 'SIGKILL');
  };
}

/** Listens, or throws a {@link StartupError} saying why the port cannot be used. */
function listen(app: Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Express 5 hands a listening error to the callback.
    const server = app.listen(port, host, (error?: NodeJS.ErrnoException) => {
      if (!error) {
        server.on('clientError', answerClientError);
        resolve(server);
        return;
      }
      const reason = error.code === 'EADDRINUSE' ? 'is already in use: stop the other process or set PORT' : `cannot be listened on (${error.message})`;
      reject(new StartupError(`Port ${port} on ${host} ${reason}.`, { cause: error }));
    });
  });
}

/**
 * Requests Node's HTTP parser refuses before Express sees them (headers or URL over 16 KB,
 * malformed request lines) get a problem+json answer instead of a bare status line.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, title, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request header fields too large', 'The request line and headers exceed 16 KB: send long values in a JSON body.']
      : [400, 'Bad request', 'The request is not well-formed HTTP.'];
  const body = JSON.stringify({ type: problemType(status === 431 ? 'headers-too-large' : 'bad-request'), title, status, detail });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Stops accepting connections, closes idle keep-alive ones, and waits for the busy ones (within a timeout). */
async function closeServer(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}
