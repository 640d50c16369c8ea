export { createLogger, withLogContext, currentLogContext } from './logger';
export type { Logger, LoggerOptions, LogFields } from './logger';
export { redactText, redactValue, maskEmail, maskPhone } from './redact';
export { LineBuffer, type LineSink } from './line-buffer';
