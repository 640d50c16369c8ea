import type { Config } from '@notofine/config';
import { Router, type RequestHandler } from 'express';
import swaggerUi from 'swagger-ui-express';
import { API_DOMAINS } from './api-domains';
import { buildOpenApiDocument } from './document';
import { DOCUMENT_PATH, SWAGGER_UI_PATH } from './openapi';

/** The version of the API the document describes. */
export const API_VERSION = '0.1.0';

/**
 * `GET /openapi.json`, the OpenAPI 3.1 document built at start-up, and Swagger UI over it at
 * `/docs/` (its assets from swagger-ui-dist, served here). No API key: the document holds no
 * secret, and Swagger UI asks for the caller's own.
 */
export function docsRoutes(config: Config): Router {
  const document = buildOpenApiDocument(API_DOMAINS, { version: API_VERSION, serverUrl: config.publicBaseUrl });
  const router = Router();

  router.get(DOCUMENT_PATH, (_req, res) => {
    res.json(document);
  });

  // Relative to /docs/, so that a path prefix in front of the API keeps working.
  const options = { swaggerUrl: `..${DOCUMENT_PATH}`, customSiteTitle: 'Notofine Notifications API', swaggerOptions: { validatorUrl: null } };
  const page = swaggerUi.setup(undefined, options);
  // The assets answer their paths; /docs is redirected to /docs/ (relative asset URLs need the slash), which gets the page.
  const pageAtRoot: RequestHandler = (req, res, next) => (req.path === '/' ? page(req, res, next) : next());
  router.use(SWAGGER_UI_PATH, ...swaggerUi.serveFiles(undefined, options), pageAtRoot);
  return router;
}
