import 'reflect-metadata';
import { CHANNELS } from '@notofine/db';
import express, { type Express } from 'express';
import cors from 'cors';
import helmet from 'helmet';
import { adminRoutes } from './admin/routes';
import { authenticate } from './api-keys/authenticate';
import { VerificationCodes } from './contact-verification/codes';
import { contactVerificationRoutes } from './contact-verification/routes';
import type { ApiDeps } from './deps';
import { deviceRoutes } from './devices/routes';
import { API_DOMAINS } from './docs/api-domains';
import { docsRoutes } from './docs/routes';
import { healthRoutes } from './health/routes';
import { metricsRoute, timeRequests } from './http/metrics';
import { idempotency } from './http/idempotency';
import { refuseUnknownQueryParameters } from './http/query-parameters';
import { rateLimit } from './http/rate-limit';
import { errorHandler, routeNotFound } from './http/problem';
import { requestContext, requireJsonBody } from './http/request-context';
import { jsonBody } from './http/strict-json';
import { requireWellFormedUrl } from './http/well-formed-url';
import { BATCH_PATH, notificationRoutes } from './notifications/routes';
import { reminderRoutes } from './reminders/routes';
import { ticketRoutes } from './tickets/routes';
import { unsubscribeRoutes } from './unsubscribe/routes';
import { userTokenRoutes } from './user-tokens/routes';
import { UserTokens } from './user-tokens/user-tokens';
import { userRoutes } from './users/routes';
import { webhookRoutes } from './webhooks/routes';

export interface AppOptions {
  /** Readiness answers 503 once this returns true (the server is draining). */
  readonly isShuttingDown?: () => boolean;
}

/** The Express application: every route, behind request ids, JSON parsing, API keys and problem+json errors. */
export function createApp(deps: ApiDeps, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  const isShuttingDown = options.isShuttingDown ?? (() => false);
  app.use(requestContext(deps.logger));
  // Draining: each answer closes its connection, so that keep-alive clients go to another replica.
  app.use((_req, res, next) => {
    if (isShuttingDown()) res.set('Connection', 'close');
    next();
  });
  app.use(timeRequests(deps.metrics));
  app.use(helmet());
  // Answers hold personal data (addresses, tokens): no browser or proxy may keep them.
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  // Closed unless origins are configured: the API is called by backends and native apps.
  const { security } = deps.config;
  if (security.corsOrigins.length > 0) {
    app.use(
      cors({
        origin: [...security.corsOrigins],
        allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
        exposedHeaders: ['Location', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Idempotent-Replayed', 'X-Request-Id'],
        maxAge: 600,
      }),
    );
  }
  // A path or query that cannot be read as text is refused before any route reads it.
  app.use(requireWellFormedUrl);
  app.use(healthRoutes(deps, isShuttingDown));
  app.use(metricsRoute(deps.metrics, () => CHANNELS.map((channel) => deps.queues.queue(channel)), { queues: deps.redis, 'rate limits': deps.limitsRedis }));
  // The OpenAPI document and Swagger UI, for client developers: no key.
  app.use(docsRoutes(deps.config));

  // Providers sign their receipts instead of sending an API key; they need the raw body.
  app.use(webhookRoutes(deps));

  // Operators' pages, for a browser: a login and a session cookie instead of the bearer key.
  app.use(adminRoutes(deps));
  // The unsubscribe links of emails: signed, for anyone holding one.
  app.use(unsubscribeRoutes(deps));

  const userTokens = security.userTokenKey && UserTokens.fromConfig(security.userTokenKey, security.userTokenTtlMs);
  app.use(authenticate(deps.dataSource.manager, deps.logger, userTokens));
  app.use(rateLimit(deps.limitsRedis, deps.config.redis.queuePrefix, { perKey: security.keyRateLimit, perUser: security.userRateLimit }, deps.logger));
  // Unknown query parameters are refused as unknown body fields are, before anything is done.
  app.use(refuseUnknownQueryParameters(API_DOMAINS));
  app.use(requireJsonBody);
  const bodyJson = jsonBody(deps.config.http.bodyLimitBytes);
  // A batch of up to a thousand notifications gets a larger body than any other request.
  const batchJson = jsonBody(deps.config.http.batchBodyLimitBytes);
  app.use((req, res, next) => (req.path === BATCH_PATH ? batchJson : bodyJson)(req, res, next));
  app.use(idempotency(deps.dataSource.manager, deps.logger, deps.config.idempotencyTtlMs));
  // Sends are most of the traffic: their routes are tried first (no two routers share a path).
  app.use(notificationRoutes(deps));
  app.use(userTokenRoutes(deps, userTokens));
  const codes = new VerificationCodes(deps.limitsRedis, deps.config.redis.queuePrefix, deps.queues, deps.logger);
  app.use(userRoutes(deps, codes));
  app.use(contactVerificationRoutes(deps, codes));
  app.use(deviceRoutes(deps));
  app.use(ticketRoutes(deps));
  app.use(reminderRoutes(deps));

  app.use(routeNotFound);
  app.use(errorHandler(deps.logger));
  return app;
}
