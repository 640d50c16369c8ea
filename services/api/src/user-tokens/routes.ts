import { User } from '@notofine/db';
import { AppError, NotFoundError } from '@notofine/errors';
import { Router } from 'express';
import { allow, callerOf } from '../api-keys/authenticate';
import type { ApiDeps } from '../deps';
import { NOT_KEPT } from '../http/idempotency';
import { parseBody, parseId } from '../http/validation';
import { MintUserTokenBody } from './dto';
import type { UserTokens } from './user-tokens';

/** `POST /users/{id}/tokens`: a backend mints a short-lived token for an app acting as that user. */
export function userTokenRoutes({ dataSource }: ApiDeps, userTokens: UserTokens | undefined): Router {
  const router = Router();
  const { manager } = dataSource;

  router.post('/users/:userId/tokens', allow('admin'), async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = req.body === undefined ? new MintUserTokenBody() : await parseBody(MintUserTokenBody, req.body);
    if (!userTokens) {
      throw new AppError(501, 'user-tokens-disabled', 'User tokens are not enabled', 'Set USER_TOKEN_SECRET or USER_TOKEN_PRIVATE_KEY on the API to mint user tokens.');
    }
    if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
    const ttlMs = body.ttl_seconds === undefined ? userTokens.maxTtlMs : body.ttl_seconds * 1000;
    const { token, expiresAt, expiresInSeconds } = await userTokens.mint(userId, callerOf(res).apiKeyId, ttlMs);
    // A replay would need the token stored in clear: a retry mints another one instead.
    res.locals[NOT_KEPT] = true;
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json({ token, token_type: 'Bearer', user_id: userId, expires_at: expiresAt.toISOString(), expires_in: expiresInSeconds });
  });

  return router;
}
