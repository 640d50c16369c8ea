export * from './config';
export { redactUrl } from './redact-url';
export { WEBHOOK_PATHS, webhookUrl } from './webhooks';
