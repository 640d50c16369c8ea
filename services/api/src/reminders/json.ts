import { isActive, type ReminderWithChannels } from './use-cases';

export function reminderJson(reminder: ReminderWithChannels) {
  return {
    id: reminder.id,
    user_id: reminder.userId,
    frequency_days: reminder.frequencyDays,
    active: isActive(reminder),
    message: reminder.message,
    subject: reminder.subject,
    channels: reminder.channels.map(({ channel, enabled }) => ({ channel, enabled })),
    ticket_id: reminder.ticketId,
    end_at: reminder.endAt,
    next_run_at: reminder.nextRunAt,
    last_run_at: reminder.lastRunAt,
    created_at: reminder.createdAt,
    updated_at: reminder.updatedAt,
  };
}
