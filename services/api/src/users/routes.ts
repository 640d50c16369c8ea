import type { User } from '@notofine/db';
import { Router } from 'express';
import { allow, ownerOf } from '../api-keys/authenticate';
import type { VerificationCodes } from '../contact-verification/codes';
import type { ApiDeps } from '../deps';
import { answerOnce } from '../http/idempotency';
import { parseBody, parseId } from '../http/validation';
import { CreateUserBody, PreferencesBody, UpdateUserBody } from './dto';
import { userJson } from './json';
import { updateUser } from './update-user';
import { createUser, deleteUser, getPreferences, getUser, setPreferences, waitingVerifications } from './use-cases';

export function userRoutes({ dataSource, config, queues, logger }: ApiDeps, codes: VerificationCodes): Router {
  const router = Router();
  const admin = allow('admin');
  // A user token reaches its own user's profile and preferences.
  const adminOrSelf = allow('admin', 'self');
  const { manager } = dataSource;

  router.post('/users', admin, async (req, res) => {
    const body = await parseBody(CreateUserBody, req.body);
    const reply = answerOnce(req, res, (user: User) => ({ status: 201, location: `/users/${user.id}`, body: userJson(user) }));
    reply.send(await createUser(manager, body, config.defaultPhoneRegion, config.defaultQuietHours, reply.idempotency));
  });

  router.get('/users/:userId', adminOrSelf, async (req, res) => {
    const user = await getUser(manager, parseId(req.params.userId, 'user_id'));
    res.json(userJson(user, await waitingVerifications(manager, user.id)));
  });

  router.patch('/users/:userId', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(UpdateUserBody, req.body);
    const user = await updateUser({ manager, phoneRegion: config.defaultPhoneRegion, codes }, { userId, changes: body, byUserToken: ownerOf(res) !== undefined });
    res.json(userJson(user, await waitingVerifications(manager, userId)));
  });

  router.delete('/users/:userId', admin, async (req, res) => {
    const unsent = await deleteUser(manager, parseId(req.params.userId, 'user_id'));
    // Their delayed jobs (scheduled sends, quiet hours) would otherwise wait in Redis for their time.
    await queues.remove(unsent).catch((error: unknown) => logger.warn('could not remove the jobs of an erased user: they will find nothing to send', { error, jobs: unsent.length }));
    res.status(204).end();
  });

  router.get('/users/:userId/preferences', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    res.json({ user_id: userId, channels: await getPreferences(manager, userId) });
  });

  router.put('/users/:userId/preferences', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(PreferencesBody, req.body);
    res.json({ user_id: userId, channels: await setPreferences(manager, userId, body.channels) });
  });

  return router;
}
