import { loadConfig, npmTookFlag, parseCommandLine, runCommand } from '@notofine/config';
import { createLogger } from '@notofine/logger';
import { connectNotificationService, type PlannedReminder } from '@notofine/notifications';

const USAGE = `Usage: npm run reminders:process [-- --dry-run]

Processes every due reminder once, as the worker's scheduler does each REMINDER_SCHEDULE, and
prints what was sent (Traité N rappels / Envoyé via: {...}): for those who run reminders from
cron. Any number of runs may go at once; each reminder is sent once per period.

  --dry-run   print what a run would send now, reminder by reminder, and send nothing, write
              nothing, move no reminder to its next period
  -h, --help  print this help

With npm, write the options after "--": npm keeps "npm run reminders:process --dry-run" for
itself (it is taken as a dry run all the same).`;

/**
 * `npm run reminders:process`: processes every due reminder once and prints the summary, for
 * those who run reminders from cron rather than the worker's scheduler; `--dry-run` says what it
 * would send and does nothing.
 */
async function main(): Promise<void> {
  const line = parseCommandLine({ 'dry-run': { type: 'boolean' } });
  if (line.help) {
    console.log(USAGE);
    return;
  }
  const dryRun = line.values['dry-run'] === true || npmTookFlag('dry-run');

  const config = loadConfig();
  const logger = createLogger({ service: 'reminders', level: 'warn', format: config.log.format });
  const { service, close } = await connectNotificationService(config, { name: 'notofine-reminders', redisRole: 'producer', logger, poolSize: 2 });
  try {
    if (dryRun) {
      console.log('Simulation (--dry-run) : rien n\'est envoyé, écrit ni reprogrammé.');
      const summary = await service.previewReminders({ onReminder: printPlanned });
      console.log(`Traiterait ${summary.processed} rappels`);
      console.log(`Ignorerait ${summary.skipped} rappels (rien à rappeler ou aucun canal joignable)`);
      console.log(`Enverrait via: ${JSON.stringify(summary.channels)}`);
      return;
    }
    const summary = await service.processReminders();
    console.log(`Traité ${summary.processed} rappels`);
    console.log(`Ignoré ${summary.skipped} rappels (rien à rappeler ou aucun canal joignable)`);
    console.log(`Envoyé via: ${JSON.stringify(summary.channels)}`);
  } finally {
    await close();
  }
}

/** A due reminder and what it would send, one line a channel (held ones say until when). */
function printPlanned({ reminderId, userId, notifications }: PlannedReminder): void {
  if (notifications.length === 0) {
    console.log(`Rappel ${reminderId} (utilisateur ${userId}) : rien à envoyer`);
    return;
  }
  console.log(`Rappel ${reminderId} (utilisateur ${userId}) :`);
  for (const { channel, message, scheduledAt } of notifications) {
    const held = scheduledAt ? ` [retenu jusqu'à ${scheduledAt.toISOString()}, heures calmes]` : '';
    console.log(`  ${channel}${held} : ${JSON.stringify(message)}`);
  }
}

runCommand(USAGE, main);
