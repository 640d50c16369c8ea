import { loadConfig } from '@notofine/config';
import { createLogger } from '@notofine/logger';
import { connectNotificationService } from '@notofine/notifications';

/**
 * `npm run reminders:process`: processes every due reminder once and prints the summary, for
 * those who run reminders from cron rather than the worker's scheduler.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'reminders', level: 'warn', format: config.log.format });
  const { service, close } = await connectNotificationService(config, { name: 'notofine-reminders', redisRole: 'producer', logger, poolSize: 2 });
  try {
    const summary = await service.processReminders();
    console.log(`Traité ${summary.processed} rappels`);
    console.log(`Ignoré ${summary.skipped} rappels (rien à rappeler ou aucun canal joignable)`);
    console.log(`Envoyé via: ${JSON.stringify(summary.channels)}`);
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
