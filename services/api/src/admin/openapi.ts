import { empty, html, OPEN, problem, RETRY_AFTER, SESSION, type ApiDomain } from '../docs/operation';
import { BOARD_PATH, LOGIN_PATH, LOGOUT_PATH } from './routes';

const TO_LOGIN = empty('To the login page.', { Location: { schema: { type: 'string', enum: [LOGIN_PATH] } } });
const CROSS_ORIGIN = problem(
  'The request did not come from a page of this API\'s own origin: `Sec-Fetch-Site` other than `same-origin`, or, without it, an `Origin` other than the host or `PUBLIC_BASE_URL`, or neither header. Nothing was changed.',
);
const NOT_A_FORM = problem('The body is not a form (`application/x-www-form-urlencoded`).');
const SESSION_STORE = problem('Redis, which keeps the sessions, or PostgreSQL is unavailable: retry after Retry-After.', RETRY_AFTER);

/** The operators' pages (routes.ts) as the OpenAPI document shows them. */
export const adminApi: ApiDomain = {
  tag: {
    name: 'Operators',
    description:
      'Bull Board over every queue, for a browser: a login with an `admin` API key and a session cookie. Sessions are kept in Redis (a logout ends one on every replica); changes (POST, PUT, PATCH, DELETE) are taken from the board\'s own pages only (`Sec-Fetch-Site: same-origin`, or an `Origin` of its own), with a body of the type the page sends.',
  },
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
        403: CROSS_ORIGIN,
        415: NOT_A_FORM,
        503: SESSION_STORE,
      },
    },
    {
      method: 'get',
      path: LOGOUT_PATH,
      summary: 'The logout page',
      description: 'Opened by "Log out" in the board\'s menu: one button that posts the logout.',
      access: OPEN,
      responses: { 200: html('The page.') },
    },
    {
      method: 'post',
      path: LOGOUT_PATH,
      summary: 'Log out',
      description: 'Ends the session on every replica (a copy of the cookie no longer works) and clears the cookie.',
      access: OPEN,
      body: { required: false, content: { 'application/x-www-form-urlencoded': { type: 'object' } } },
      responses: { 303: TO_LOGIN, 403: CROSS_ORIGIN, 415: NOT_A_FORM, 503: SESSION_STORE },
    },
    {
      method: 'get',
      path: BOARD_PATH,
      summary: 'The queue board',
      description: `Bull Board over the email, sms, push and reminders queues: counts, jobs, errors, and retrying failed jobs (not with BULL_BOARD_READ_ONLY). Its page calls Bull Board's own JSON API under \`${BOARD_PATH}/api/\`, with the same session (401 without); that API's changes answer 403 from another origin and 415 for a body that is not JSON.`,
      access: SESSION,
      responses: { 200: html('The board.'), 303: TO_LOGIN, 503: SESSION_STORE },
    },
  ],
};
