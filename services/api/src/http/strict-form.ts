import { isUtf8 } from 'node:buffer';
import { ValidationError } from '@notofine/errors';
import express, { type RequestHandler } from 'express';
import { checkText } from './strict-json';

/**
 * The fields of an `application/x-www-form-urlencoded` body, read as strictly as JSON bodies are:
 * a field given twice, percent-encoding that is not UTF-8, a NUL character or bytes that are not
 * UTF-8 are refused (400 naming the field) instead of being kept, dropped or replaced.
 *
 * @throws {@link ValidationError}
 */
export function parseStrictForm(bytes: Buffer): Record<string, string> {
  if (!isUtf8(bytes)) throw new ValidationError('The request body is not valid UTF-8.');
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const text = bytes.toString('utf8');
  if (!text) return fields;
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const equals = pair.indexOf('=');
    const name = decodeFormComponent(equals < 0 ? pair : pair.slice(0, equals), 'body');
    const value = decodeFormComponent(equals < 0 ? '' : pair.slice(equals + 1), name);
    checkText(name, name);
    checkText(name, value);
    if (name in fields) throw ValidationError.forField(name, 'is given more than once: send each field once');
    fields[name] = value;
  }
  return fields;
}

function decodeFormComponent(raw: string, field: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    throw ValidationError.forField(field, 'is not valid percent-encoded UTF-8');
  }
}

/** Parses a form body with {@link parseStrictForm} into `req.body`; other bodies are left alone. */
export function formBody(limit: string | number): RequestHandler {
  const raw = express.raw({ type: 'application/x-www-form-urlencoded', limit });
  return (req, res, next) => {
    raw(req, res, (error?: unknown) => {
      if (error) {
        next(error);
        return;
      }
      try {
        if (Buffer.isBuffer(req.body)) req.body = parseStrictForm(req.body);
        next();
      } catch (refusal) {
        next(refusal);
      }
    });
  };
}
