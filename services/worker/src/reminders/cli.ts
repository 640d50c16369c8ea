import { loadConfig } from '@notofine/config';
import { assertSchemaUpToDate, connectDatabase } from '@notofine/db';
import { createLogger } from '@notofine/logger';
import { NotificationService } from '@notofine/notifications';
import { DeliveryQueues, connectRedis, createRedis } from '@notofine/queue';

/**
 * `npm run reminders:process`: processes every due reminder once and prints the summary, for
 * those who run reminders from cron rather than the worker's scheduler.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'reminders', level: 'warn', format: config.log.format });
  const dataSource = await connectDatabase(config.database, { applicationName: 'notofine-reminders', poolSize: 2 });
  const connection = createRedis(config.redis.url, 'producer', 'notofine-reminders');
  try {
    await assertSchemaUpToDate(dataSource);
    await connectRedis(connection, config.redis.url);
    const queues = new DeliveryQueues(connection, config.redis.queuePrefix, config.delivery);
    const service = new NotificationService({ dataSource, queues, logger, reminderBatchSize: config.reminders.batchSize });
    const summary = await service.processReminders();
    await queues.close();
    console.log(`Traité ${summary.processed} rappels`);
    console.log(`Ignoré ${summary.skipped} rappels (rien à rappeler ou aucun canal joignable)`);
    console.log(`Envoyé via: ${JSON.stringify(summary.channels)}`);
  } finally {
    await connection.quit().catch(() => connection.disconnect());
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
