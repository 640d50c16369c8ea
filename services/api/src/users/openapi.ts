import { CHANNELS } from '@notofine/db';
import { apiKey, DATE_TIME, empty, ID, json, LOCATION, nullable, problem, record, ref, type ApiDomain } from '../docs/operation';
import { CreateUserBody, PreferencesBody, UpdateUserBody } from './dto';

const NOT_FOUND = problem('No such user (or another user\'s, for a user token).');

/** The users routes (routes.ts) as the OpenAPI document shows them. */
export const userApi: ApiDomain = {
  tag: { name: 'Users', description: 'The people notified: their contact details, language, time zone, quiet hours and channel preferences.' },
  schemas: {
    User: record({
      id: ID,
      full_name: { type: 'string' },
      email: nullable({ type: 'string', format: 'email' }),
      phone: nullable({ type: 'string', description: 'E.164, e.g. +33612345678.' }),
      email_verified: { type: 'boolean', description: 'Whether the user proved `email` with a code sent there (false for an address a backend key set). Text written with a user token goes only to proven addresses.' },
      phone_verified: { type: 'boolean', description: 'Whether the user proved `phone` with a code sent by SMS.' },
      pending_verification: record(
        { email: nullable(ref('Verification')), phone: nullable(ref('Verification')) },
        'Addresses waiting for their code: a change made through a user token (not used until proven), or the current address being proven.',
      ),
      locale: { type: 'string', description: '`fr` or `en`, optionally with a region.' },
      timezone: { type: 'string', description: 'An IANA time zone, e.g. Europe/Paris.' },
      quiet_hours: nullable(
        record({ start: { type: 'string', description: 'HH:MM' }, end: { type: 'string', description: 'HH:MM' }, email: { type: 'boolean', description: 'Emails wait too.' } }, 'SMS and push wait while they last, in the user\'s time zone.'),
      ),
      opted_out: record(
        { email: nullable(DATE_TIME), sms: nullable(DATE_TIME) },
        'When the user unsubscribed from a channel (email link, SMS STOP); only critical notices reach them there.',
      ),
      created_at: DATE_TIME,
      updated_at: DATE_TIME,
    }),
    Preferences: record({
      user_id: ID,
      channels: record(Object.fromEntries(CHANNELS.map((channel) => [channel, { type: 'boolean' }])), 'Channels for notifications other than reminders; a channel never set is on.'),
    }),
  },
  operations: [
    {
      method: 'post',
      path: '/users',
      summary: 'Create a user',
      description: 'Phones are stored in E.164 (`06 12 34 56 78` → `+33612345678`, in DEFAULT_PHONE_REGION); a new user gets DEFAULT_QUIET_HOURS unless `quiet_hours` says otherwise.',
      access: apiKey('admin'),
      body: { dto: CreateUserBody },
      responses: { 201: json('The user.', ref('User'), LOCATION) },
    },
    {
      method: 'get',
      path: '/users/:userId',
      summary: 'Read a user',
      access: apiKey('admin', 'self'),
      responses: { 200: json('The user.', ref('User')), 404: NOT_FOUND },
    },
    {
      method: 'patch',
      path: '/users/:userId',
      summary: 'Change a user',
      description:
        'Only the fields sent change; `null` removes an email, a phone or the quiet hours. `opted_out: {"email": false}` subscribes the user again. ' +
        'An email or phone set by a backend key is the user\'s at once (not proven). One set through a user token is not: a code goes to it, the current one stays in use, and `pending_verification` shows it until the code is given back (`POST /users/{id}/verifications/confirm`); setting the current one again gives it up.',
      access: apiKey('admin', 'self'),
      body: { dto: UpdateUserBody },
      responses: { 200: json('The user as changed.', ref('User')), 404: NOT_FOUND },
    },
    {
      method: 'delete',
      path: '/users/:userId',
      summary: 'Erase a user',
      description: 'Erases the user and everything that is theirs; their queued notifications are then not sent.',
      access: apiKey('admin'),
      responses: { 204: empty('Erased.'), 404: NOT_FOUND },
    },
    {
      method: 'get',
      path: '/users/:userId/preferences',
      summary: 'Read a user\'s channel preferences',
      access: apiKey('admin', 'self'),
      responses: { 200: json('The preferences.', ref('Preferences')), 404: NOT_FOUND },
    },
    {
      method: 'put',
      path: '/users/:userId/preferences',
      summary: 'Set a user\'s channel preferences',
      description: 'Changes the channels named (at least one); the others keep their setting. A notification still pending on a channel turned off is cancelled when its turn comes (unless critical). Reminders do not follow these: their channels are their own.',
      access: apiKey('admin', 'self'),
      body: { dto: PreferencesBody },
      responses: { 200: json('The preferences as changed.', ref('Preferences')), 404: NOT_FOUND },
    },
  ],
};
