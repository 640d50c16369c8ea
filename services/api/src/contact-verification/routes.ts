import { Router } from 'express';
import { allow } from '../api-keys/authenticate';
import type { ApiDeps } from '../deps';
import { parseBody, parseId } from '../http/validation';
import { userJson } from '../users/json';
import { waitingVerifications } from '../users/use-cases';
import type { VerificationCodes } from './codes';
import { confirmVerificationCode } from './confirm-code';
import { ConfirmCodeBody, RequestCodeBody } from './dto';
import { verificationJson } from './json';
import { requestVerificationCode } from './request-code';

/**
 * Proof of ownership of a user's email and phone: a code is sent to the address (`POST
 * /users/{id}/verifications`, or a change through a user token), and given back here. The user's
 * own token may do both, and so may a backend key.
 */
export function contactVerificationRoutes({ dataSource }: ApiDeps, codes: VerificationCodes): Router {
  const router = Router();
  const adminOrSelf = allow('admin', 'self');
  const { manager } = dataSource;

  router.post('/users/:userId/verifications', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(RequestCodeBody, req.body);
    const verification = await requestVerificationCode(manager, codes, { userId, contact: body.contact });
    res.status(202).json(verificationJson(verification));
  });

  router.post('/users/:userId/verifications/confirm', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(ConfirmCodeBody, req.body);
    const user = await confirmVerificationCode(manager, { userId, contact: body.contact, code: body.code });
    res.json(userJson(user, await waitingVerifications(manager, userId)));
  });

  return router;
}
