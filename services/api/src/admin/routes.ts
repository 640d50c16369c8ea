import { UnauthorizedError } from '@notofine/errors';
import { Router, type Request, type RequestHandler } from 'express';
import type { ApiDeps } from '../deps';
import { formBody } from '../http/strict-form';
import { jsonBody } from '../http/strict-json';
import { queueBoard } from './board';
import { loginPage, logoutPage } from './login-page';
import { sameOriginWrites } from './same-origin';
import { AdminSessions, SESSION_COOKIE } from './session';

export const BOARD_PATH = '/admin/queues';
export const LOGIN_PATH = '/admin/login';
export const LOGOUT_PATH = '/admin/logout';

/**
 * The operators' pages: Bull Board over every queue at /admin/queues, behind a login with an
 * `admin` API key that sets a session cookie (HttpOnly, Secure, SameSite=Strict: browsers keep
 * Secure cookies on http://localhost too, so a port-forward works; anything else needs HTTPS).
 * Sessions live in Redis: logging out ends one on every replica. Changes are taken from the
 * board's own pages only (see same-origin.ts).
 */
export function adminRoutes(deps: ApiDeps): Router {
  const { config } = deps;
  const sessions = new AdminSessions(deps.dataSource.manager, deps.redis, config.redis.queuePrefix, config.admin.sessionTtlMs);

  const router = Router();
  const form = formBody('4kb');
  const cookieOptions = { httpOnly: true, secure: true, sameSite: 'strict', path: '/admin' } as const;

  // The board's JSON API takes JSON; the login and logout forms, forms. (Not mounted on /admin: a
  // middleware on a path would read as one more route to the tests that list them.)
  const sameOrigin = sameOriginWrites(config.publicBaseUrl, (req) => (req.path.startsWith(`${BOARD_PATH}/`) ? ['application/json'] : ['application/x-www-form-urlencoded']));
  router.use((req, res, next) => (req.path.startsWith('/admin/') ? sameOrigin(req, res, next) : next()));

  router.get(LOGIN_PATH, (_req, res) => {
    res.type('html').send(loginPage());
  });

  router.post(LOGIN_PATH, form, async (req, res) => {
    const key = (req.body as { api_key?: unknown } | undefined)?.api_key;
    const apiKey = typeof key === 'string' && key.length <= 200 ? await sessions.logIn(key.trim()) : null;
    if (!apiKey) {
      deps.logger.warn('admin login refused');
      res.status(401).type('html').send(loginPage('This key is unknown, revoked, or not an admin key.'));
      return;
    }
    deps.logger.info('admin login', { api_key_id: apiKey.id });
    res.cookie(SESSION_COOKIE, await sessions.open(apiKey.id), { ...cookieOptions, maxAge: sessions.ttlMs });
    res.redirect(303, BOARD_PATH);
  });

  router.get(LOGOUT_PATH, (_req, res) => {
    res.type('html').send(logoutPage());
  });

  router.post(LOGOUT_PATH, form, async (req, res) => {
    await sessions.end(readCookie(req, SESSION_COOKIE));
    res.clearCookie(SESSION_COOKIE, cookieOptions);
    res.redirect(303, LOGIN_PATH);
  });

  const requireSession: RequestHandler = async (req, res, next) => {
    if ((await sessions.verify(readCookie(req, SESSION_COOKIE))) !== null) {
      next();
      return;
    }
    // The board's pages send the browser to the login; its JSON API (called by the page) answers 401.
    if (req.method === 'GET' && !req.path.startsWith('/api/')) res.redirect(303, LOGIN_PATH);
    else throw new UnauthorizedError(`Log in at ${LOGIN_PATH} with an admin API key.`);
  };
  const board = queueBoard({ basePath: BOARD_PATH, logoutPath: LOGOUT_PATH, config, queues: deps.queues, redis: deps.redis, manager: deps.dataSource.manager, logger: deps.logger });
  // Bull Board's JSON API reads bodies as leniently as express.json(): they are read strictly first.
  router.use(BOARD_PATH, requireSession, jsonBody(config.http.bodyLimitBytes), board);

  return router;
}

/** One cookie of the request, or undefined. */
function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const separator = part.indexOf('=');
    // Session cookies hold only characters that need no decoding.
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}
