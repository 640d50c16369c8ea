export * from './config';
export { redactUrl } from './redact-url';
