import { UNSUBSCRIBE_PATH } from '@notofine/notifications';
import { html, problem, signedBy, type ApiDomain } from '../docs/operation';

const TOKEN = { pathParams: { token: { description: 'The signed token of the email\'s link.', schema: { type: 'string' } } } } as const;
const ACCESS = signedBy('the link is signed with UNSUBSCRIBE_SECRET');
const INVALID = problem('The link is incomplete or was not made by this service.');

/** The unsubscribe links of emails (routes.ts) as the OpenAPI document shows them. */
export const unsubscribeApi: ApiDomain = {
  tag: { name: 'Unsubscribe', description: 'The one-click unsubscribe link of every email (RFC 8058).' },
  operations: [
    {
      method: 'get',
      path: `${UNSUBSCRIBE_PATH}/:token`,
      summary: 'The unsubscribe page',
      description: 'A page with one button; opening the link changes nothing (mail scanners open links).',
      access: ACCESS,
      ...TOKEN,
      responses: { 200: html('The page.'), 404: INVALID },
    },
    {
      method: 'post',
      path: `${UNSUBSCRIBE_PATH}/:token`,
      summary: 'Unsubscribe',
      description: 'What the page\'s button and mail clients\' one-click unsubscribe (`List-Unsubscribe=One-Click`) send. Critical notices still come.',
      access: ACCESS,
      ...TOKEN,
      body: { required: false, content: { 'application/x-www-form-urlencoded': { type: 'object', properties: { 'List-Unsubscribe': { type: 'string', enum: ['One-Click'] } } } } },
      responses: { 200: html('Unsubscribed.'), 404: INVALID },
    },
  ],
};
