import { empty, html, OPEN, problem, RETRY_AFTER, SESSION, type ApiDomain } from '../docs/operation';
import { BOARD_PATH, LOGIN_PATH } from './routes';

const TO_LOGIN = empty('To the login page.', { Location: { schema: { type: 'string', enum: [LOGIN_PATH] } } });

/** The operators' pages (routes.ts) as the OpenAPI document shows them. */
export const adminApi: ApiDomain = {
  tag: { name: 'Operators', description: 'Bull Board over every queue, for a browser: a login with an `admin` API key and a session cookie.' },
  operations: [
    {
      method: 'get',
      path: LOGIN_PATH,
      summary: 'The login page',
      access: OPEN,
      responses: { 200: html('The form.') },
    },
    {
      method: 'post',
      path: LOGIN_PATH,
      summary: 'Log in',
      access: OPEN,
      body: {
        content: { 'application/x-www-form-urlencoded': { type: 'object', properties: { api_key: { type: 'string', maxLength: 200 } }, required: ['api_key'] } },
      },
      responses: {
        303: empty('Logged in: the session cookie (HttpOnly, Secure, SameSite=Strict) is set, and the browser goes to the board.', {
          Location: { schema: { type: 'string', enum: [BOARD_PATH] } },
          'Set-Cookie': { schema: { type: 'string' } },
        }),
        401: html('The form again: the key is unknown, revoked, or not an admin key.'),
        503: problem('PostgreSQL is unavailable: retry after Retry-After.', RETRY_AFTER),
      },
    },
    {
      method: 'post',
      path: '/admin/logout',
      summary: 'Log out',
      access: OPEN,
      responses: { 303: TO_LOGIN },
    },
    {
      method: 'get',
      path: BOARD_PATH,
      summary: 'The queue board',
      description: `Bull Board over the email, sms, push and reminders queues: counts, jobs, errors, and retrying failed jobs (not with BULL_BOARD_READ_ONLY). Its page calls Bull Board's own JSON API under \`${BOARD_PATH}/api/\`, with the same session (401 without).`,
      access: SESSION,
      responses: { 200: html('The board.'), 303: TO_LOGIN },
    },
  ],
};
