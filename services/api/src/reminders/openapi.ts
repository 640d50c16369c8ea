import { CHANNELS } from '@notofine/db';
import type { SchemaObject } from 'openapi3-ts/oas31';
import { apiKey, DATE_TIME, empty, enumeration, ID, json, LOCATION, nullable, problem, record, ref, type ApiDomain } from '../docs/operation';
import { CreateReminderBody, UpdateReminderBody } from './dto';

const CHANNEL = enumeration(CHANNELS);
const COUNT: SchemaObject = { type: 'integer', minimum: 0 };

/** The reminders routes (routes.ts) as the OpenAPI document shows them. */
export const reminderApi: ApiDomain = {
  tag: { name: 'Reminders', description: 'Recurring reminders of a user\'s unpaid tickets (or of one ticket, or with a message of their own), on channels of their own.' },
  schemas: {
    Reminder: record({
      id: ID,
      user_id: ID,
      frequency_days: { type: 'integer', minimum: 1 },
      active: { type: 'boolean', description: 'Whether it runs: false once switched off, once its ticket is settled, or once its `end_at` has passed.' },
      message: nullable({ type: 'string', description: 'Sent as is; null sends a summary of the user\'s unpaid tickets.' }),
      subject: nullable({ type: 'string' }),
      channels: { type: 'array', items: record({ channel: CHANNEL, enabled: { type: 'boolean' } }) },
      ticket_id: nullable({ ...ID, description: 'The ticket it is about: it stops once that ticket is paid or cancelled.' }),
      end_at: nullable({ ...DATE_TIME, description: 'It stops then.' }),
      next_run_at: DATE_TIME,
      last_run_at: nullable(DATE_TIME),
      created_at: DATE_TIME,
      updated_at: DATE_TIME,
    }),
    ReminderList: record({ reminders: { type: 'array', items: ref('Reminder') } }),
    ReminderRunSummary: record({
      processed: { ...COUNT, description: 'Due reminders that produced at least one notification.' },
      skipped: { ...COUNT, description: 'Due reminders that produced none (nothing unpaid, no reachable channel); rescheduled all the same.' },
      channels: record(Object.fromEntries(CHANNELS.map((channel) => [channel, COUNT])), 'Notifications queued, per channel.'),
    }),
  },
  operations: [
    {
      method: 'post',
      path: '/users/:userId/reminders',
      summary: 'Create a reminder',
      description: 'Due at once (sent at the next run), then every `frequency_days`, at the same local time in the user\'s time zone.',
      access: apiKey('admin', 'self'),
      body: { dto: CreateReminderBody },
      responses: {
        201: json('The reminder.', ref('Reminder'), LOCATION),
        404: problem('No such user (or another user\'s, for a user token).'),
        422: problem(
          'A channel cannot reach the user (`channel-unreachable`); a message or subject written with a user token on a channel whose address the user has not proven (`address-not-proven`); or the ticket is another user\'s or settled.',
        ),
      },
    },
    {
      method: 'get',
      path: '/users/:userId/reminders',
      summary: 'List a user\'s reminders',
      access: apiKey('admin', 'self'),
      query: { active: { description: 'Only the reminders that are on (`true`: switched on and not past their `end_at`) or off (`false`).', schema: { type: 'boolean' } } },
      responses: { 200: json('The reminders.', ref('ReminderList')), 404: problem('No such user (or another user\'s, for a user token).') },
    },
    {
      method: 'post',
      path: '/reminders/process',
      summary: 'Process every due reminder now',
      description: 'What the worker\'s scheduler does every REMINDER_SCHEDULE; concurrent runs send each reminder once per period.',
      access: apiKey('admin'),
      responses: { 200: json('What the run did.', ref('ReminderRunSummary')) },
    },
    {
      method: 'get',
      path: '/reminders/:reminderId',
      summary: 'Read a reminder',
      access: apiKey('admin', 'owned'),
      responses: { 200: json('The reminder.', ref('Reminder')), 404: problem('No such reminder (or another user\'s, for a user token).') },
    },
    {
      method: 'patch',
      path: '/reminders/:reminderId',
      summary: 'Change a reminder',
      description:
        'New `channels` replace the old: those left out become `enabled: false`. A change is refused what creation is: `"active": true` on a reminder whose ticket is settled, or past its `end_at` without a new one; a reminder past its `end_at` stays off otherwise.',
      access: apiKey('admin', 'owned'),
      body: { dto: UpdateReminderBody },
      responses: {
        200: json('The reminder as changed.', ref('Reminder')),
        404: problem('No such reminder (or another user\'s, for a user token).'),
        422: problem('A channel cannot reach the user (`channel-unreachable`); a message or subject written with a user token would go to an address the user has not proven (`address-not-proven`); switched on, its ticket is paid or cancelled (`ticket-settled`) or its `end_at` is past (`reminder-ended`).'),
      },
    },
    {
      method: 'delete',
      path: '/reminders/:reminderId',
      summary: 'Remove a reminder',
      access: apiKey('admin', 'owned'),
      responses: { 204: empty('Removed.'), 404: problem('No such reminder (or another user\'s, for a user token).') },
    },
  ],
};
