import { UnauthorizedError } from '@notofine/errors';
import { Router, type Request, type RequestHandler } from 'express';
import type { ApiDeps } from '../deps';
import { formBody } from '../http/strict-form';
import { jsonBody } from '../http/strict-json';
import { queueBoard } from './board';
import { loginPage } from './login-page';
import { AdminSessions, SESSION_COOKIE } from './session';

export const BOARD_PATH = '/admin/queues';
export const LOGIN_PATH = '/admin/login';

/**
 * The operators' pages: Bull Board over every queue at /admin/queues, behind a login with an
 * `admin` API key that sets a session cookie (HttpOnly, Secure, SameSite=Strict: browsers keep
 * Secure cookies on http://localhost too, so a port-forward works; anything else needs HTTPS).
 */
export function adminRoutes(deps: ApiDeps): Router {
  const { config } = deps;
  const sessions = new AdminSessions(deps.dataSource.manager, config.admin.sessionSecret, config.admin.sessionTtlMs);
  if (config.admin.sessionSecret === undefined) {
    deps.logger.warn('ADMIN_SESSION_SECRET is not set: admin sessions end with this process and work on this replica only');
  }

  const router = Router();
  const form = formBody('4kb');
  const cookieOptions = { httpOnly: true, secure: true, sameSite: 'strict', path: '/admin' } as const;

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
    res.cookie(SESSION_COOKIE, sessions.issue(apiKey.id), { ...cookieOptions, maxAge: sessions.ttlMs });
    res.redirect(303, BOARD_PATH);
  });

  router.post('/admin/logout', (_req, res) => {
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
  const board = queueBoard({ basePath: BOARD_PATH, config, queues: deps.queues, redis: deps.redis, manager: deps.dataSource.manager, logger: deps.logger });
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
