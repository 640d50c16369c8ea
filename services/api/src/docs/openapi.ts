import { empty, html, json, OPEN, type ApiDomain } from './operation';

export const DOCUMENT_PATH = '/openapi.json';
export const SWAGGER_UI_PATH = '/docs';

/** These docs (routes.ts) as the OpenAPI document shows them. */
export const docsApi: ApiDomain = {
  tag: { name: 'Documentation', description: 'This document, and Swagger UI over it.' },
  operations: [
    {
      method: 'get',
      path: DOCUMENT_PATH,
      summary: 'The OpenAPI document',
      access: OPEN,
      responses: { 200: json('This OpenAPI 3.1 document.', { type: 'object' }) },
    },
    {
      method: 'get',
      path: SWAGGER_UI_PATH,
      summary: 'Swagger UI',
      description: `Browses this document and tries its routes with a key of yours (Authorize). Its assets are served under \`${SWAGGER_UI_PATH}/\`.`,
      access: OPEN,
      responses: { 200: html('Swagger UI (at `/docs/`).'), 301: empty('From `/docs` to `/docs/`, which its assets are relative to.', { Location: { schema: { type: 'string' } } }) },
    },
  ],
};
