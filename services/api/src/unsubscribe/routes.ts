import { UNSUBSCRIBE_PATH, UnsubscribeLinks } from '@notofine/notifications';
import { setOptOut } from '@notofine/db';
import { AppError } from '@notofine/errors';
import { Router } from 'express';
import type { ApiDeps } from '../deps';
import { formBody } from '../http/strict-form';
import { unsubscribePage } from './page';

/**
 * The unsubscribe link of every email (RFC 8058): `GET` shows a page with one button, for people
 * (mail scanners open links, so a GET changes nothing); `POST` unsubscribes, and is what mail
 * clients send on one click (`List-Unsubscribe=One-Click`). No API key: the signed link is the
 * proof. The user's critical notices still come.
 */
export function unsubscribeRoutes({ config, dataSource, logger }: ApiDeps): Router {
  const router = Router();
  const links = new UnsubscribeLinks(config.security.unsubscribeSecret, config.publicBaseUrl);
  const form = formBody('1kb');

  const verified = (token: string | string[] | undefined) => {
    const link = typeof token === 'string' ? links.verify(token) : null;
    if (!link) throw new AppError(404, 'unsubscribe-link-invalid', 'This unsubscribe link is not valid', 'The link is incomplete or was not made by Notofine: use the link of a recent email.');
    return link;
  };

  router.get(`${UNSUBSCRIBE_PATH}/:token`, (req, res) => {
    verified(req.params.token);
    res.type('html').set('Cache-Control', 'no-store').send(unsubscribePage('confirm'));
  });

  router.post(`${UNSUBSCRIBE_PATH}/:token`, form, async (req, res) => {
    const { userId, channel } = verified(req.params.token);
    const known = await setOptOut(dataSource.manager, userId, channel, true);
    if (known) logger.info('user unsubscribed', { user_id: userId, channel, one_click: (req.body as Record<string, unknown> | undefined)?.['List-Unsubscribe'] === 'One-Click' });
    // An erased user is unsubscribed all the more: the same answer.
    res.type('html').set('Cache-Control', 'no-store').send(unsubscribePage('done'));
  });

  return router;
}
