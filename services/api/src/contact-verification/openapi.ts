import { CONTACTS } from '@notofine/db';
import { VERIFICATION } from '@notofine/notifications';
import { apiKey, DATE_TIME, enumeration, json, nullable, problem, record, ref, RETRY_AFTER, type ApiDomain } from '../docs/operation';
import { ConfirmCodeBody, RequestCodeBody } from './dto';

const TTL_MINUTES = VERIFICATION.codeTtlMs / 60_000;

/** The contact verification routes (routes.ts) as the OpenAPI document shows them. */
export const contactVerificationApi: ApiDomain = {
  tag: {
    name: 'Verifications',
    description:
      `Proof that an email address or phone number is the user's: a code of six digits sent there (good ${TTL_MINUTES} minutes, ${VERIFICATION.maxFailedAttempts} wrong attempts at most), given back. ` +
      'An address set through a user token is not used until proven; text written with a user token goes to proven addresses only.',
  },
  schemas: {
    Verification: record(
      {
        contact: enumeration(CONTACTS),
        address: { type: 'string', description: 'The address waiting to be proven, masked (`j***@example.com`, `+33******78`).' },
        code_sent_at: nullable({ ...DATE_TIME, description: 'When the last code went out; null while it is on its way.' }),
        code_expires_at: nullable({ ...DATE_TIME, description: 'When that code stops being good.' }),
        attempts_left: { type: 'integer', minimum: 0, description: 'Wrong codes it still takes before it is dropped.' },
      },
      'An address waiting for its owner to give back the code sent there.',
    ),
  },
  operations: [
    {
      method: 'post',
      path: '/users/:userId/verifications',
      summary: 'Send a verification code',
      description:
        'Sends a new code to the user\'s email or phone waiting to be proven (a change made through a user token), or else to the current one when the user has not proven it. ' +
        `One code a minute to an address for a user, ${VERIFICATION.perUser.max} an hour for a user, ${VERIFICATION.perAddress.max} a day for an address whoever asks (429 \`verification-rate-limited\`, with Retry-After).`,
      access: apiKey('admin', 'self'),
      body: { dto: RequestCodeBody },
      responses: {
        202: json('The code is on its way, to that address only.', ref('Verification')),
        404: problem('No such user (or another user\'s, for a user token).'),
        409: problem('Nothing to prove (`nothing-to-verify`): the user has no such address, or proved it already.'),
      },
    },
    {
      method: 'post',
      path: '/users/:userId/verifications/confirm',
      summary: 'Give back a verification code',
      description: 'The right code, in time: the address it was sent to becomes the user\'s, proven. A wrong one counts; the last attempt allowed drops the address waiting.',
      access: apiKey('admin', 'self'),
      body: { dto: ConfirmCodeBody },
      responses: {
        200: json('The user, with the address proven.', ref('User')),
        404: problem('No such user (or another user\'s, for a user token).'),
        409: problem('Nothing waits for a code (`no-pending-verification`), or its code has not gone out yet (`verification-code-not-sent`, with Retry-After).', RETRY_AFTER),
        422: problem('The code is wrong (`verification-code-wrong`, with the attempts left), expired (`verification-code-expired`), or the last attempt was spent (`verification-attempts-exhausted`).'),
      },
    },
  ],
};
