export * from './config';
export { redactUrl } from './redact-url';
export { WEBHOOK_PATHS, webhookUrl } from './webhooks';
export { npmTookFlag, parseCommandLine, runCommand, UsageError, USAGE_EXIT_CODE, type CommandLine } from './command-line';
