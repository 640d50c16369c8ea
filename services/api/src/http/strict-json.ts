import { isUtf8 } from 'node:buffer';
import { AppError, ValidationError } from '@notofine/errors';
import express, { type RequestHandler } from 'express';

/** Objects and lists nested deeper than this are refused: no body of the API needs more than a few levels. */
export const MAX_JSON_DEPTH = 32;

/** The media types read as JSON. */
export const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * What a strict API refuses in JSON that `JSON.parse` lets through, each with the path of the
 * field it is in: a NUL character (PostgreSQL's text cannot hold one), a lone UTF-16 surrogate
 * (`"\ud800"`, not a character: it cannot be stored or sent on as UTF-8), a field given twice in one
 * object (`JSON.parse` keeps the last, other parsers the first: which one did the client mean?), a
 * number beyond ±(2^53 − 1) (`1e400` reads as Infinity, larger integers are rounded), and nesting
 * deeper than {@link MAX_JSON_DEPTH}.
 */
export const JSON_RULES = {
  nul: 'contains a NUL character (\\u0000), which text cannot hold',
  surrogate: (unit: number) => `contains a lone UTF-16 surrogate (\\u${unit.toString(16)}), which is not a character: send well-formed Unicode`,
  duplicate: 'is given more than once in the same object: send each field once',
  number: `is a number beyond ±${Number.MAX_SAFE_INTEGER} (2^53 − 1), which cannot be read exactly`,
  depth: `nests objects or lists more than ${MAX_JSON_DEPTH} levels deep`,
} as const;

/** What may come next in the text. */
const VALUE = 0;
const VALUE_OR_END = 1;
const KEY = 2;
const KEY_OR_END = 3;
const COLON = 4;
const COMMA_OR_END = 5;

/** An object or a list being read: the field being read in it. */
interface Frame {
  readonly object: boolean;
  keys: Set<string> | null;
  key: string;
  index: number;
}

/**
 * Checks the text of a JSON document, as bytes, for what {@link JSON_RULES} refuses, and for
 * bytes that are not UTF-8. Anything malformed is left for `JSON.parse` to report: the check
 * stops there. The walk is iterative, so that no nesting can exhaust the stack.
 *
 * @throws {@link ValidationError} naming the first field at fault (`notifications[3].message`)
 */
export function checkJsonText(bytes: Buffer): void {
  if (!isUtf8(bytes)) throw new ValidationError('The request body is not valid UTF-8: send JSON encoded in UTF-8.');
  const stack: Frame[] = [];
  const n = bytes.length;
  let expect = VALUE;
  let i = 0;
  for (;;) {
    while (i < n && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
    if (i >= n) return;
    const c = bytes[i]!;
    const top = stack[stack.length - 1];
    if ((expect === VALUE_OR_END && c === 0x5d) /* ] */ || (expect === KEY_OR_END && c === 0x7d) /* } */) {
      stack.pop();
      i++;
      expect = COMMA_OR_END;
      continue;
    }
    switch (expect) {
      case VALUE:
      case VALUE_OR_END:
        if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
          if (stack.length >= MAX_JSON_DEPTH) fail(stack, null, JSON_RULES.depth);
          stack.push({ object: c === 0x7b, keys: null, key: '', index: 0 });
          i++;
          expect = c === 0x7b ? KEY_OR_END : VALUE_OR_END;
        } else if (c === 0x22 /* " */) {
          const end = endOfString(bytes, i, stack, null);
          if (end < 0) return;
          i = end + 1;
          expect = COMMA_OR_END;
        } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
          let end = i + 1;
          let digitsOnly = true;
          while (end < n && isNumberByte(bytes[end]!)) {
            if (bytes[end]! < 0x30 || bytes[end]! > 0x39) digitsOnly = false;
            end++;
          }
          // Up to 15 digits is always within 2^53: only longer or written otherwise (1e400) need reading.
          if (!digitsOnly || end - i > 15) {
            const value = Number(bytes.toString('latin1', i, end));
            if (Number.isNaN(value)) return;
            if (!(Math.abs(value) <= Number.MAX_SAFE_INTEGER)) fail(stack, null, JSON_RULES.number);
          }
          i = end;
          expect = COMMA_OR_END;
        } else if (c >= 0x61 && c <= 0x7a /* true, false, null */) {
          while (i < n && bytes[i]! >= 0x61 && bytes[i]! <= 0x7a) i++;
          expect = COMMA_OR_END;
        } else {
          return;
        }
        continue;
      case KEY:
      case KEY_OR_END: {
        if (c !== 0x22 || !top) return;
        const end = endOfString(bytes, i, stack, '');
        if (end < 0) return;
        const key = keyOf(bytes, i, end);
        top.keys ??= new Set();
        top.key = key;
        if (top.keys.has(key)) fail(stack, null, JSON_RULES.duplicate);
        top.keys.add(key);
        i = end + 1;
        expect = COLON;
        continue;
      }
      case COLON:
        if (c !== 0x3a /* : */) return;
        i++;
        expect = VALUE;
        continue;
      case COMMA_OR_END:
        if (!top) return;
        if (c === 0x2c /* , */) {
          if (top.object) {
            expect = KEY;
          } else {
            top.index++;
            expect = VALUE;
          }
        } else if (c === (top.object ? 0x7d : 0x5d)) {
          stack.pop();
        } else {
          return;
        }
        i++;
        continue;
      default:
        return;
    }
  }
}

/** Checks one text value (a form field, a query parameter) for what {@link JSON_RULES} refuses in strings. */
export function checkText(field: string, value: string): void {
  if (value.includes('\u0000')) throw ValidationError.forField(field, JSON_RULES.nul);
  const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(value);
  if (lone) throw ValidationError.forField(field, JSON_RULES.surrogate(lone[0].charCodeAt(0)));
}

/**
 * `express.json()` for the API's bodies, with {@link checkJsonText} run on the bytes before they
 * are parsed: what it refuses is answered 400 before any work. Objects and lists only at the top
 * (`strict`); the charset, if given, must be UTF-8.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  return express.json({
    strict: true,
    type: JSON_TYPES,
    limit: limitBytes,
    verify: (_req, _res, bytes, encoding) => {
      if (!/^utf-?8$/i.test(encoding)) {
        throw new AppError(415, 'unsupported-media-type', 'Unsupported encoding', `The charset ${encoding} is not accepted: send UTF-8 JSON.`);
      }
      checkJsonText(bytes);
    },
  });
}

/** `JSON.parse` of a body already checked by {@link checkJsonText}, or undefined when it is not JSON. */
export function parseCheckedJson(bytes: Buffer): unknown {
  checkJsonText(bytes);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function isNumberByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x65 || b === 0x45 || b === 0x2b || b === 0x2d;
}

/**
 * The index of the closing quote of the string opening at `start`, or -1 when it is malformed;
 * throws for a NUL or a lone surrogate. `key` is '' while reading a key, whose own name then ends
 * the path (found once the key is read).
 */
function endOfString(bytes: Buffer, start: number, stack: readonly Frame[], key: string | null): number {
  const n = bytes.length;
  let j = start + 1;
  while (j < n) {
    const b = bytes[j]!;
    if (b === 0x22) return j;
    if (b < 0x20) return -1;
    if (b !== 0x5c /* \ */) {
      j++;
      continue;
    }
    if (bytes[j + 1] !== 0x75 /* u */) {
      j += 2;
      continue;
    }
    const unit = hexUnit(bytes, j + 2);
    if (unit < 0) return -1;
    const named = () => (key === null ? null : keyOf(bytes, start, closingQuote(bytes, j)));
    if (unit === 0) fail(stack, named(), JSON_RULES.nul);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = bytes[j + 6] === 0x5c && bytes[j + 7] === 0x75 ? hexUnit(bytes, j + 8) : -1;
      if (next < 0xdc00 || next > 0xdfff) fail(stack, named(), JSON_RULES.surrogate(unit));
      j += 12;
      continue;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) fail(stack, named(), JSON_RULES.surrogate(unit));
    j += 6;
  }
  return -1;
}

/** The closing quote of a string from inside it (for the name of a key at fault), or the end of the text. */
function closingQuote(bytes: Buffer, from: number): number {
  let j = from;
  while (j < bytes.length && bytes[j] !== 0x22) j += bytes[j] === 0x5c ? 2 : 1;
  return Math.min(j, bytes.length);
}

/** The four hex digits at `at` as a UTF-16 code unit, or -1. */
function hexUnit(bytes: Buffer, at: number): number {
  if (at + 4 > bytes.length) return -1;
  const text = bytes.toString('latin1', at, at + 4);
  return /^[0-9a-fA-F]{4}$/.test(text) ? parseInt(text, 16) : -1;
}

/** The text of the key whose quotes are at `start` and `end`, escapes decoded. */
function keyOf(bytes: Buffer, start: number, end: number): string {
  const raw = bytes.toString('utf8', start + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** Throws a {@link ValidationError} for the field being read (or the key `key` in it). */
function fail(stack: readonly Frame[], key: string | null, message: string): never {
  let path = '';
  for (const frame of stack) {
    if (frame === stack[stack.length - 1] && key !== null) break;
    path += frame.object ? `${path ? '.' : ''}${printable(frame.key)}` : `[${frame.index}]`;
  }
  if (key !== null) path += `${path ? '.' : ''}${printable(key)}`;
  throw ValidationError.forField(path || 'body', message);
}

/** A key as a path shows it: control characters and lone surrogates escaped, as JSON writes them. */
function printable(key: string): string {
  return JSON.stringify(key).slice(1, -1);
}
