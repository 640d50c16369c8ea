import type { Server } from 'node:http';
import { loadConfig, type Config } from '@notofine/config';
import { assertSchemaUpToDate, connectDatabase } from '@notofine/db';
import { createLogger, type Logger } from '@notofine/logger';
import { NotificationService } from '@notofine/notifications';
import { DeliveryQueues, connectRedis, createRedis } from '@notofine/queue';
import type { Express } from 'express';
import { ensureApiKey } from './api-keys/api-keys';
import { createApp } from './app';

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

  const dataSource = await connectDatabase(config.database, { applicationName: 'notofine-api' });
  const redis = createRedis(config.redis.url, 'producer', 'notofine-api');
  try {
    await assertSchemaUpToDate(dataSource);
    await connectRedis(redis, config.redis.url);
    if (config.bootstrapApiKey && (await ensureApiKey(dataSource.manager, 'bootstrap', config.bootstrapApiKey))) {
      logger.info('bootstrap API key created');
    }
  } catch (error) {
    redis.disconnect();
    await dataSource.destroy();
    throw error;
  }
  redis.on('error', (error) => logger.warn('redis connection error', { error }));

  const queues = new DeliveryQueues(redis, config.redis.queuePrefix, config.delivery);
  const notifications = new NotificationService({ dataSource, queues, logger, reminderBatchSize: config.reminders.batchSize });
  let shuttingDown = false;
  const app = createApp({ config, logger, dataSource, notifications, redis }, { isShuttingDown: () => shuttingDown });

  let server: Server | null = null;
  if (options.listen !== false) {
    server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(config.http.port, config.http.host, () => resolve(listening));
      listening.once('error', reject);
    });
    logger.info('api listening', { host: config.http.host, port: config.http.port });
  }

  return {
    app,
    server,
    notifications,
    async stop() {
      shuttingDown = true;
      logger.info('api stopping');
      if (server) await closeServer(server, config.shutdownTimeoutMs);
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
      await dataSource.destroy();
      logger.info('api stopped');
    },
  };
}

/** Stops accepting connections, closes idle keep-alive ones, and waits for the busy ones (within a timeout). */
async function closeServer(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}
