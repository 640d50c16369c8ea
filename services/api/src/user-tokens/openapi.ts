import { apiKey, DATE_TIME, ID, json, problem, record, ref, type ApiDomain } from '../docs/operation';
import { MintUserTokenBody } from './dto';

/** The user-token route (routes.ts) as the OpenAPI document shows it. */
export const userTokenApi: ApiDomain = {
  tag: { name: 'User tokens', description: 'Short-lived tokens a backend mints for an app acting for one user.' },
  schemas: {
    UserToken: record({
      token: { type: 'string', description: 'A JWT: send it as `Authorization: Bearer <token>`.' },
      token_type: { type: 'string', enum: ['Bearer'] },
      user_id: ID,
      expires_at: DATE_TIME,
      expires_in: { type: 'integer', minimum: 1, description: 'Seconds.' },
    }),
  },
  operations: [
    {
      method: 'post',
      path: '/users/:userId/tokens',
      summary: 'Mint a user token',
      description: 'The token reaches its user\'s own profile, preferences, devices, reminders, tickets and notifications, for USER_TOKEN_TTL_MS at most; it is void once the key that minted it is revoked.',
      access: apiKey('admin'),
      body: { dto: MintUserTokenBody, required: false },
      responses: {
        201: json('The token (not stored: keep it).', ref('UserToken')),
        404: problem('No such user.'),
        501: problem('User tokens are not enabled (USER_TOKEN_SECRET or USER_TOKEN_PRIVATE_KEY unset).'),
      },
    },
  ],
};
