import type { ContactVerification } from '@notofine/db';
import { Router } from 'express';
import { allow } from '../api-keys/authenticate';
import type { ApiDeps } from '../deps';
import { answerOnce } from '../http/idempotency';
import { parseBody, parseId } from '../http/validation';
import { userJson } from '../users/json';
import type { VerificationCodes } from './codes';
import { confirmVerificationCode, type ProvenUser } from './confirm-code';
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
    const reply = answerOnce(req, res, (verification: ContactVerification) => ({ status: 202, body: verificationJson(verification) }));
    reply.send(await requestVerificationCode(manager, codes, { userId, contact: body.contact }, reply.idempotency));
  });

  router.post('/users/:userId/verifications/confirm', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(ConfirmCodeBody, req.body);
    const reply = answerOnce(req, res, ({ user, waiting }: ProvenUser) => ({ status: 200, body: userJson(user, waiting) }));
    reply.send(await confirmVerificationCode(manager, { userId, contact: body.contact, code: body.code }, reply.idempotency));
  });

  return router;
}
