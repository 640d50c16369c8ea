import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHANNELS, type Channel } from '@notofine/db';
import { ValidationError } from '@notofine/errors';
import { formatDate, formatEuros, today } from './format';
import { isGsm7Character, messageOn } from './sms-text';

/** The kinds of message senders may render, one file per kind and language in `templates/`. */
export const TEMPLATE_KINDS = ['ticket_due', 'ticket_overdue', 'ticket_paid', 'reminder_summary', 'payment_link'] as const;
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];

/**
 * The kinds of message only the service itself writes (a verification code), in `templates/` too:
 * a send cannot name them.
 */
export const SERVICE_TEMPLATE_KINDS = ['contact_verification'] as const;
export type ServiceTemplateKind = (typeof SERVICE_TEMPLATE_KINDS)[number];

type AnyKind = TemplateKind | ServiceTemplateKind;
const ALL_KINDS: readonly AnyKind[] = [...TEMPLATE_KINDS, ...SERVICE_TEMPLATE_KINDS];
const isKnownKind = (value: unknown): value is AnyKind => (ALL_KINDS as readonly unknown[]).includes(value);

/** What a verification code's message shows of the code where it is kept (the row, the API): not the code. */
export const MASKED_CODE = '******';

/** The user a message is written for: their locale picks the language and the formats. */
export interface TemplateUser {
  readonly locale: string;
  readonly timezone: string;
}

/** A rendered message, by channel. `text` is the SMS, the email's plain-text part or the push body. */
export interface RenderedTemplates {
  readonly sms: { readonly text: string };
  readonly email: { readonly subject: string; readonly text: string; readonly html: string };
  readonly push: { readonly title: string; readonly text: string };
}
export type RenderedTemplate<C extends Channel = Channel> = RenderedTemplates[C];

/** The language of the messages of a user whose locale's language has no templates. */
export const DEFAULT_TEMPLATE_LANGUAGE = 'fr';

/** Where the template files are: `packages/notifications/templates`, from `src/` (tests) as from `dist/`. */
export const TEMPLATES_DIRECTORY = join(__dirname, '..', 'templates');

type ValueType = 'reference' | 'name' | 'cents' | 'count' | 'date' | 'url' | 'code';

/**
 * What `data` holds for each kind; `?` marks an optional variable. Templates see the values
 * formatted for the user's locale, amounts without their `_cents` suffix: `amount_cents` is
 * `{{amount}}`, `due_date` a date in words.
 */
const DATA_VARIABLES: Readonly<Record<AnyKind, Readonly<Record<string, ValueType | `${ValueType}?`>>>> = {
  ticket_due: { reference: 'reference', amount_cents: 'cents', due_date: 'date', url: 'url?', full_name: 'name?' },
  ticket_overdue: {
    reference: 'reference',
    amount_cents: 'cents',
    due_date: 'date',
    amount_increased_cents: 'cents?',
    url: 'url?',
    full_name: 'name?',
  },
  ticket_paid: { reference: 'reference', amount_cents: 'cents', full_name: 'name?' },
  reminder_summary: { count: 'count', total_cents: 'cents', due_date: 'date', reference: 'reference', url: 'url?', full_name: 'name?' },
  payment_link: { url: 'url', reference: 'reference', amount_cents: 'cents?', due_date: 'date?', full_name: 'name?' },
  // Nothing else, and above all nothing a user token wrote: the message goes to an address not proven yet.
  contact_verification: { code: 'code', minutes: 'count' },
};

/** Conditions computed from the data, usable only as sections: `{{#plural}}…{{/plural}}`, `{{^plural}}…{{/plural}}`. */
const CONDITIONS: Readonly<Record<AnyKind, readonly string[]>> = {
  ticket_due: [],
  ticket_overdue: [],
  ticket_paid: [],
  // plural: more than one ticket; overdue: the next due date is past, in the user's time zone.
  reminder_summary: ['plural', 'overdue'],
  payment_link: [],
  contact_verification: [],
};

const VALUE_CHECKS: Readonly<Record<ValueType, { readonly valid: (value: unknown) => boolean; readonly expected: string }>> = {
  reference: { valid: (value) => isLine(value, 64), expected: 'must be a text of 1 to 64 characters on one line' },
  name: { valid: (value) => isLine(value, 200), expected: 'must be a text of 1 to 200 characters on one line' },
  cents: { valid: (value) => Number.isSafeInteger(value) && (value as number) >= 0, expected: 'must be an amount in cents: a whole number, 0 or more' },
  count: { valid: (value) => Number.isSafeInteger(value) && (value as number) >= 1, expected: 'must be a whole number, 1 or more' },
  date: { valid: isIsoDate, expected: 'must be a date written YYYY-MM-DD' },
  url: { valid: isWebUrl, expected: 'must be an http or https URL of at most 2048 characters' },
  code: { valid: (value) => typeof value === 'string' && (/^\d{6}$/.test(value) || value === MASKED_CODE), expected: `must be six digits, or ${MASKED_CODE}` },
};

function isLine(value: unknown, maxLength: number): boolean {
  return typeof value === 'string' && value.trim() !== '' && value.length <= maxLength && !/\p{Cc}/u.test(value);
}

function isIsoDate(value: unknown): boolean {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

function isWebUrl(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 2048) return false;
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

const optional = (spec: string): boolean => spec.endsWith('?');
const typeOf = (spec: string): ValueType => spec.replace(/\?$/, '') as ValueType;
const templateName = (dataName: string): string => dataName.replace(/_cents$/, '');

// ---- Template syntax: {{name}}, {{#name}}shown when set{{/name}}, {{^name}}shown when not{{/name}} ----

type Part = string | { readonly variable: string } | { readonly section: string; readonly inverted: boolean; readonly parts: readonly Part[] };

const TAG = /\{\{(.*?)\}\}/gs;
const TAG_BODY = /^\s*([#^/]?)\s*([a-z][a-z_]*)\s*$/;

/** The parts of a template string; throws on a malformed tag or an unbalanced section. */
function parse(source: string): Part[] {
  const root: Part[] = [];
  const open: { name: string; inverted: boolean; parts: Part[] }[] = [];
  const current = (): Part[] => open.at(-1)?.parts ?? root;
  const addText = (text: string): void => {
    if (text.includes('{{') || text.includes('}}')) throw new Error(`unclosed tag near "${text.slice(0, 30)}"`);
    if (text) current().push(text);
  };
  let last = 0;
  for (const match of source.matchAll(TAG)) {
    addText(source.slice(last, match.index));
    last = match.index + match[0].length;
    const tag = TAG_BODY.exec(match[1] ?? '');
    if (!tag) throw new Error(`malformed tag ${match[0]}`);
    const [, sigil, name = ''] = tag;
    if (sigil === '#' || sigil === '^') {
      open.push({ name, inverted: sigil === '^', parts: [] });
    } else if (sigil === '/') {
      const section = open.pop();
      if (section?.name !== name) throw new Error(`{{/${name}}} closes ${section ? `{{#${section.name}}}` : 'no section'}`);
      current().push({ section: name, inverted: section.inverted, parts: section.parts });
    } else {
      current().push({ variable: name });
    }
  }
  addText(source.slice(last));
  const unclosed = open.at(-1);
  if (unclosed) throw new Error(`{{${unclosed.inverted ? '^' : '#'}${unclosed.name}}} is never closed`);
  return root;
}

/** Values a template sees: formatted text, or `true` for a condition that holds. Absent means empty or false. */
type TemplateValues = ReadonlyMap<string, string | true>;

function renderParts(parts: readonly Part[], values: TemplateValues, encode: (value: string) => string): string {
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      if ('variable' in part) {
        const value = values.get(part.variable);
        return typeof value === 'string' ? encode(value) : '';
      }
      return values.has(part.section) !== part.inverted ? renderParts(part.parts, values, encode) : '';
    })
    .join('');
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
const asIs = (value: string): string => value;

// ---- Loading: every file parsed and checked once, when the module loads ----

interface CompiledTemplate {
  readonly sms: readonly Part[];
  readonly email: { readonly subject: readonly Part[]; readonly text: readonly (readonly Part[])[]; readonly html: readonly (readonly Part[])[] };
  readonly push: { readonly title: readonly Part[]; readonly body: readonly Part[] };
}

/** Compiled templates by language, then kind. */
export type TemplateSet = ReadonlyMap<string, ReadonlyMap<AnyKind, CompiledTemplate>>;

const FILE_NAME = /^([a-z_]+)\.([a-z]{2,3})\.json$/;

/**
 * Reads and checks every `<kind>.<language>.json` of a directory. Throws one error listing every
 * problem: a file that is not JSON or lacks a channel, a malformed tag, a `{{variable}}` its kind
 * does not have, an optional variable used outside its own section, an SMS text with characters
 * outside the GSM alphabet, a language missing a kind, no French templates.
 */
export function loadTemplates(directory: string): TemplateSet {
  let fileNames: string[];
  try {
    fileNames = readdirSync(directory).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    throw new Error(`Message templates: cannot read the directory ${directory}`, { cause: error });
  }
  const problems: string[] = [];
  const templates = new Map<string, Map<AnyKind, CompiledTemplate>>();
  for (const fileName of fileNames) {
    const [, kind = '', language = ''] = FILE_NAME.exec(fileName) ?? [];
    if (!isKnownKind(kind)) {
      problems.push(`${fileName}: not named <kind>.<language>.json with a kind among ${ALL_KINDS.join(', ')}`);
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(join(directory, fileName), 'utf8'));
    } catch (error) {
      problems.push(`${fileName}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const fileProblems: string[] = [];
    const template = compileTemplate(json, kind, fileProblems);
    problems.push(...fileProblems.map((problem) => `${fileName}: ${problem}`));
    if (fileProblems.length === 0) templates.set(language, (templates.get(language) ?? new Map()).set(kind, template));
  }
  const languages = new Set(fileNames.map((name) => FILE_NAME.exec(name)).filter((match) => isKnownKind(match?.[1])).map((match) => match?.[2] ?? ''));
  if (!languages.has(DEFAULT_TEMPLATE_LANGUAGE)) problems.push(`no ${DEFAULT_TEMPLATE_LANGUAGE} templates: ${DEFAULT_TEMPLATE_LANGUAGE} is the language of users whose own has none`);
  for (const language of languages) {
    for (const kind of ALL_KINDS) {
      if (!fileNames.includes(`${kind}.${language}.json`)) problems.push(`${kind}.${language}.json is missing: every language has every kind`);
    }
  }
  if (problems.length > 0) throw new Error(`Message templates in ${directory} are not valid:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  return templates;
}

function compileTemplate(json: unknown, kind: AnyKind, problems: string[]): CompiledTemplate {
  const variables = new Map<string, 'required' | 'optional' | 'condition'>([
    ...Object.entries(DATA_VARIABLES[kind]).map(([name, spec]) => [templateName(name), optional(spec) ? 'optional' : 'required'] as const),
    ...CONDITIONS[kind].map((name) => [name, 'condition'] as const),
  ]);

  const checkNames = (parts: readonly Part[], field: string, sections: readonly string[] = []): void => {
    for (const part of parts) {
      if (typeof part === 'string') continue;
      const name = 'variable' in part ? part.variable : part.section;
      const role = variables.get(name);
      if (!role) {
        problems.push(`${field}: {{${name}}} is not a variable of ${kind} (${[...variables.keys()].join(', ')})`);
      } else if ('variable' in part && role === 'condition') {
        problems.push(`${field}: {{${name}}} is a condition, for {{#${name}}} and {{^${name}}} sections only`);
      } else if ('variable' in part && role === 'optional' && !sections.includes(name)) {
        problems.push(`${field}: {{${name}}} is optional, write it inside {{#${name}}}…{{/${name}}}`);
      }
      if ('section' in part) checkNames(part.parts, field, part.inverted ? sections : [...sections, part.section]);
    }
  };
  const compile = (source: unknown, field: string, rules: { line?: boolean; gsm7?: boolean } = {}): Part[] => {
    if (typeof source !== 'string' || source.trim() === '') {
      problems.push(`${field} ${source === undefined ? 'is missing' : 'must be a text'}`);
      return [];
    }
    let parts: Part[];
    try {
      parts = parse(source);
    } catch (error) {
      problems.push(`${field}: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
    checkNames(parts, field);
    const fixed = staticText(parts);
    if (rules.line && /[\r\n]/.test(fixed)) problems.push(`${field} must be one line`);
    const outside = rules.gsm7 ? [...new Set(Array.from(fixed).filter((char) => !isGsm7Character(char)))] : [];
    if (outside.length > 0) problems.push(`${field} has characters outside the GSM alphabet of SMS: ${outside.join(' ')}`);
    return parts;
  };
  const compileParagraphs = (source: unknown, field: string): Part[][] => {
    if (!Array.isArray(source) || source.length === 0) {
      problems.push(`${field} ${source === undefined ? 'is missing' : 'must be a list of paragraphs'}`);
      return [];
    }
    return source.map((paragraph, index) => compile(paragraph, `${field}[${index}]`));
  };

  const file = objectAt(json, 'the file', CHANNELS, problems) ?? {};
  const email = objectAt(file.email, 'email', ['subject', 'text', 'html'], problems);
  const push = objectAt(file.push, 'push', ['title', 'body'], problems);
  return {
    sms: compile(file.sms, 'sms', { gsm7: true }),
    email: {
      subject: email ? compile(email.subject, 'email.subject', { line: true }) : [],
      text: email ? compileParagraphs(email.text, 'email.text') : [],
      html: email ? compileParagraphs(email.html, 'email.html') : [],
    },
    push: { title: push ? compile(push.title, 'push.title', { line: true }) : [], body: push ? compile(push.body, 'push.body') : [] },
  };
}

/** An object of the file, its unknown keys reported; undefined, reported, when it is missing or not an object. */
function objectAt(value: unknown, field: string, keys: readonly string[], problems: string[]): Readonly<Record<string, unknown>> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${field} ${value === undefined ? 'is missing' : 'must be an object'}`);
    return undefined;
  }
  const prefix = field === 'the file' ? '' : `${field}.`;
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) problems.push(`${prefix}${key} is not a known key (${keys.map((known) => prefix + known).join(', ')})`);
  }
  return value as Record<string, unknown>;
}

/** The text a template writes whatever the data, its variables left out. */
function staticText(parts: readonly Part[]): string {
  return parts.map((part) => (typeof part === 'string' ? part : 'parts' in part ? staticText(part.parts) : '')).join('');
}

const TEMPLATES = loadTemplates(TEMPLATES_DIRECTORY);

// ---- Rendering ----

export function isTemplateKind(value: unknown): value is TemplateKind {
  return (TEMPLATE_KINDS as readonly unknown[]).includes(value);
}

/**
 * A message of a kind for one channel, in the user's language (French when their locale's
 * language has no templates) with amounts and dates formatted for their full locale (`fr-BE`,
 * `en-GB`). Variables are HTML-escaped in the email's HTML part, written as they are elsewhere; an
 * SMS is brought to the GSM alphabet where it can be (`août` → `aout`, see {@link messageOn}).
 *
 * @param kind one of {@link TEMPLATE_KINDS}; any other is a `ValidationError` on `template`.
 * @param data the kind's variables, e.g. `{ reference, amount_cents, due_date }` for `ticket_due`;
 *   a missing, malformed or unknown one is a `ValidationError` on `data.<name>`.
 * @param now when "today" is, in the user's time zone, to tell whether a due date is past.
 */
export function renderTemplate<C extends Channel>(kind: string, channel: C, data: unknown, user: TemplateUser, now: Date = new Date()): RenderedTemplate<C> {
  if (!isTemplateKind(kind)) throw ValidationError.forField('template', `must be one of ${TEMPLATE_KINDS.join(', ')}`);
  return render(kind, channel, data, user, now);
}

/** A message of a kind only the service writes ({@link SERVICE_TEMPLATE_KINDS}), as {@link renderTemplate} renders the others. */
export function renderServiceTemplate<C extends Channel>(kind: ServiceTemplateKind, channel: C, data: unknown, user: TemplateUser, now: Date = new Date()): RenderedTemplate<C> {
  return render(kind, channel, data, user, now);
}

function render<C extends Channel>(kind: AnyKind, channel: C, data: unknown, user: TemplateUser, now: Date): RenderedTemplate<C> {
  if (!(CHANNELS as readonly string[]).includes(channel)) throw ValidationError.forField('channel', `must be one of ${CHANNELS.join(', ')}`);
  const { language, locale } = languageAndLocale(user.locale);
  const template = TEMPLATES.get(language)?.get(kind);
  if (!template) throw new Error(`No ${kind} template in ${language}`); // loadTemplates makes sure there is one
  const values = templateValues(kind, checkedData(kind, data), locale, user.timezone, now);
  const renderers: { readonly [K in Channel]: () => RenderedTemplates[K] } = {
    sms: () => ({ text: messageOn('sms', renderParts(template.sms, values, asIs), 'service') }),
    email: () => ({
      subject: renderParts(template.email.subject, values, asIs),
      text: renderParagraphs(template.email.text, values, asIs).join('\n\n'),
      html: renderParagraphs(template.email.html, values, escapeHtml).join('\n'),
    }),
    push: () => ({ title: renderParts(template.push.title, values, asIs), text: renderParts(template.push.body, values, asIs) }),
  };
  return renderers[channel]();
}

/** Paragraphs that a section left empty are left out. */
function renderParagraphs(paragraphs: readonly (readonly Part[])[], values: TemplateValues, encode: (value: string) => string): string[] {
  return paragraphs.map((parts) => renderParts(parts, values, encode)).filter((paragraph) => paragraph.trim() !== '');
}

/** The language of the texts, and the locale of the formats: the user's own when the texts are in its language. */
function languageAndLocale(userLocale: string): { language: string; locale: string } {
  const requested = userLocale.trim().replace(/_/g, '-');
  const primary = requested.split('-')[0]?.toLowerCase() ?? '';
  const language = TEMPLATES.has(primary) ? primary : DEFAULT_TEMPLATE_LANGUAGE;
  if (primary !== language) return { language, locale: language };
  try {
    return { language, locale: Intl.getCanonicalLocales(requested)[0] ?? language };
  } catch {
    return { language, locale: language };
  }
}

type CheckedData = ReadonlyMap<string, { readonly type: ValueType; readonly value: string | number }>;

/** The data, each variable checked against its kind; throws a ValidationError naming the first wrong one. */
function checkedData(kind: AnyKind, data: unknown): CheckedData {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw ValidationError.forField('data', 'must be an object');
  const specs = DATA_VARIABLES[kind];
  const given = data as Readonly<Record<string, unknown>>;
  const unknown = Object.keys(given).find((name) => !Object.hasOwn(specs, name));
  if (unknown !== undefined) throw ValidationError.forField(`data.${unknown}`, `is not a variable of ${kind} (${Object.keys(specs).join(', ')})`);
  const checked = new Map<string, { type: ValueType; value: string | number }>();
  for (const [name, spec] of Object.entries(specs)) {
    const value = given[name];
    if (value === undefined || value === null) {
      if (optional(spec)) continue;
      throw ValidationError.forField(`data.${name}`, `is required for ${kind}`);
    }
    const type = typeOf(spec);
    if (!VALUE_CHECKS[type].valid(value)) throw ValidationError.forField(`data.${name}`, VALUE_CHECKS[type].expected);
    checked.set(name, { type, value: value as string | number });
  }
  return checked;
}

function templateValues(kind: AnyKind, data: CheckedData, locale: string, timezone: string, now: Date): TemplateValues {
  const values = new Map<string, string | true>();
  for (const [name, { type, value }] of data) {
    const formatted = type === 'cents' ? formatEuros(Number(value), locale) : type === 'date' ? formatDate(String(value), locale) : String(value);
    values.set(templateName(name), formatted);
  }
  if (kind === 'reminder_summary') {
    if (Number(data.get('count')?.value) > 1) values.set('plural', true);
    if (String(data.get('due_date')?.value) < today(timezone, now)) values.set('overdue', true);
  }
  return values;
}

