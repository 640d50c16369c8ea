import { ValidationError } from '@notofine/errors';
import type { RequestHandler } from 'express';
import { JSON_RULES } from './strict-json';

const NOT_UTF8 = 'is not valid percent-encoded UTF-8: encode text as UTF-8 bytes (%C3%A9 for é)';

/**
 * 400 before any route for a URL that cannot be read as text: percent-encoding that is not UTF-8
 * (`%ff`, `%ED%A0%80`, a lone `%`), or a NUL (`%00`), in the path or in a query parameter. Express
 * cannot decode the former into route parameters, and PostgreSQL refuses the latter.
 */
export const requireWellFormedUrl: RequestHandler = (req, _res, next) => {
  const url = req.originalUrl;
  if (!url.includes('%')) {
    next();
    return;
  }
  const mark = url.indexOf('?');
  checkComponent('path', mark < 0 ? url : url.slice(0, mark));
  if (mark >= 0) {
    for (const pair of url.slice(mark + 1).split('&')) {
      const equals = pair.indexOf('=');
      const rawName = equals < 0 ? pair : pair.slice(0, equals);
      const name = checkComponent(`query.${rawName}`, rawName, true);
      if (equals >= 0) checkComponent(`query.${name}`, pair.slice(equals + 1), true);
    }
  }
  next();
};

/** A URL component decoded, or a {@link ValidationError} naming `field`. */
function checkComponent(field: string, raw: string, form = false): string {
  if (!raw.includes('%')) return raw;
  let decoded: string;
  try {
    decoded = decodeURIComponent(form ? raw.replaceAll('+', ' ') : raw);
  } catch {
    throw ValidationError.forField(field, NOT_UTF8);
  }
  if (decoded.includes('\u0000')) throw ValidationError.forField(field, JSON_RULES.nul);
  return decoded;
}
