import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHANNELS, type Channel } from '@notofine/db';
import { ValidationError } from '@notofine/errors';
import { TEMPLATE_KINDS, renderTemplate, renderUnpaidSummary, verificationMessage, type TemplateKind } from '../src';
import { SERVICE_TEMPLATE_KINDS, TEMPLATES_DIRECTORY, loadTemplates } from '../src/templates';

/** Every kind with files: those senders name, and those only the service writes. */
const ALL_KINDS = [...TEMPLATE_KINDS, ...SERVICE_TEMPLATE_KINDS];

const NOW = new Date('2026-08-01T10:00:00Z');
const LANGUAGES = ['fr', 'en'] as const;
const paris = { locale: 'fr', timezone: 'Europe/Paris' };
const london = { locale: 'en', timezone: 'Europe/London' };
const userIn = (language: string): { locale: string; timezone: string } => ({ locale: language, timezone: 'Europe/Paris' });

/** A message's data with every variable its kind has, optional ones included: the longest messages. */
function buildTemplateData(kind: TemplateKind, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const ticket = { reference: 'PV2026-004217', amount_cents: 13500, due_date: '2026-09-30' };
  const reachable = { url: 'https://pay.notofine.fr/p/PV2026-004217', full_name: 'Françoise Lebœuf' };
  const data: Record<TemplateKind, Record<string, unknown>> = {
    ticket_due: { ...ticket, ...reachable },
    ticket_overdue: { ...ticket, amount_increased_cents: 37500, ...reachable },
    ticket_paid: { reference: ticket.reference, amount_cents: ticket.amount_cents, full_name: reachable.full_name },
    reminder_summary: { count: 3, total_cents: 123456, due_date: ticket.due_date, reference: ticket.reference, ...reachable },
    payment_link: { ...ticket, ...reachable },
  };
  return { ...data[kind], ...overrides };
}

const REQUIRED_VARIABLES: Record<TemplateKind, readonly string[]> = {
  ticket_due: ['reference', 'amount_cents', 'due_date'],
  ticket_overdue: ['reference', 'amount_cents', 'due_date'],
  ticket_paid: ['reference', 'amount_cents'],
  reminder_summary: ['count', 'total_cents', 'due_date', 'reference'],
  payment_link: ['url', 'reference'],
};

/** The same data without its optional variables. */
function buildRequiredData(kind: TemplateKind): Record<string, unknown> {
  const data = buildTemplateData(kind);
  return Object.fromEntries(REQUIRED_VARIABLES[kind].map((name) => [name, data[name]]));
}

// GSM 03.38: the basic set, and the extension table whose characters take two of the 160 septets.
const GSM7_BASIC = /^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà]$/u;
const GSM7_EXTENSION = ['\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];
const notGsm7 = (text: string): string[] => Array.from(text).filter((char) => !GSM7_BASIC.test(char) && !GSM7_EXTENSION.includes(char));
const septets = (text: string): number => Array.from(text).reduce((count, char) => count + (GSM7_EXTENSION.includes(char) ? 2 : 1), 0);

function validationErrorOf(render: () => unknown): ValidationError {
  try {
    render();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

describe('renderTemplate', () => {
  describe.each(LANGUAGES)('in %s', (language) => {
    it.each(TEMPLATE_KINDS.flatMap((kind) => CHANNELS.map((channel) => [kind, channel] as const)))(
      'renders %s for %s with every variable, none left unreplaced',
      (kind, channel) => {
        const rendered: Record<string, string> = { ...renderTemplate(kind, channel, buildTemplateData(kind), userIn(language), NOW) };

        expect(Object.keys(rendered).sort()).toEqual({ sms: ['text'], email: ['html', 'subject', 'text'], push: ['text', 'title'] }[channel]);
        for (const part of Object.values(rendered)) {
          expect(part.trim()).not.toBe('');
          expect(part).not.toMatch(/\{\{|\}\}/);
        }
        expect(rendered.text).toContain('PV2026-004217');
      },
    );

    it.each(TEMPLATE_KINDS)('writes the %s SMS in the GSM alphabet, in one segment of 160 septets', (kind) => {
      const variants = [buildTemplateData(kind), buildRequiredData(kind)];
      if (kind === 'reminder_summary') variants.push(buildTemplateData(kind, { due_date: '2026-07-31' }), buildTemplateData(kind, { count: 1, total_cents: 13500 }));

      for (const data of variants) {
        const { text } = renderTemplate(kind, 'sms', data, userIn(language), NOW);

        expect(notGsm7(text)).toEqual([]);
        expect(septets(text)).toBeLessThanOrEqual(160);
      }
    });

    it.each(TEMPLATE_KINDS)('keeps the %s push short and the email subject on one line', (kind) => {
      const push = renderTemplate(kind, 'push', buildTemplateData(kind), userIn(language), NOW);
      const email = renderTemplate(kind, 'email', buildTemplateData(kind), userIn(language), NOW);

      expect(push.title.length).toBeLessThanOrEqual(40);
      expect(push.text.length).toBeLessThanOrEqual(120);
      expect(email.subject).not.toMatch(/[\r\n]/);
    });
  });

  it('writes a ticket due in French, each channel in its own form', () => {
    const data = buildTemplateData('ticket_due', { due_date: '2026-12-15' });

    expect(renderTemplate('ticket_due', 'sms', data, paris, NOW)).toEqual({
      text: 'Notofine : votre contravention PV2026-004217 de 135,00 € est à régler avant le 15 décembre 2026. Payer : https://pay.notofine.fr/p/PV2026-004217',
    });
    expect(renderTemplate('ticket_due', 'email', data, paris, NOW)).toEqual({
      subject: 'Contravention PV2026-004217 à régler avant le 15 décembre 2026',
      text: [
        'Bonjour Françoise Lebœuf,',
        'Votre contravention PV2026-004217 d’un montant de 135,00 € est à régler avant le 15 décembre 2026. Passé ce délai, l’amende peut être majorée.',
        'Pour la payer en ligne : https://pay.notofine.fr/p/PV2026-004217',
        'L’équipe Notofine',
      ].join('\n\n'),
      html: [
        '<p>Bonjour Françoise Lebœuf,</p>',
        '<p>Votre contravention <strong>PV2026-004217</strong> d’un montant de <strong>135,00 €</strong> est à régler avant le <strong>15 décembre 2026</strong>. Passé ce délai, l’amende peut être majorée.</p>',
        '<p><a href="https://pay.notofine.fr/p/PV2026-004217">Payer la contravention en ligne</a></p>',
        '<p>L’équipe Notofine</p>',
      ].join('\n'),
    });
    expect(renderTemplate('ticket_due', 'push', data, paris, NOW)).toEqual({
      title: 'Contravention à régler',
      text: 'PV2026-004217 : 135,00 € à régler avant le 15 décembre 2026.',
    });
  });

  it('writes an overdue ticket in English, with its increased amount when there is one', () => {
    const data = buildTemplateData('ticket_overdue', { due_date: '2026-12-15' });

    expect(renderTemplate('ticket_overdue', 'sms', data, london, NOW).text).toBe(
      'Notofine: traffic ticket PV2026-004217 (€135.00) was not paid by December 15, 2026. Increased amount: €375.00. Pay: https://pay.notofine.fr/p/PV2026-004217',
    );
    expect(renderTemplate('ticket_overdue', 'push', { ...data, amount_increased_cents: null }, london, NOW)).toEqual({
      title: 'Traffic ticket overdue',
      text: 'PV2026-004217 was not paid by December 15, 2026.',
    });
  });

  it('leaves out the paragraphs and words of optional variables the data does not have', () => {
    const email = renderTemplate('ticket_due', 'email', buildRequiredData('ticket_due'), paris, NOW);

    expect(email.text).toBe(
      'Bonjour,\n\nVotre contravention PV2026-004217 d’un montant de 135,00 € est à régler avant le 30 septembre 2026. Passé ce délai, l’amende peut être majorée.\n\nL’équipe Notofine',
    );
    expect(email.html).not.toContain('<a ');
    expect(renderTemplate('payment_link', 'sms', buildRequiredData('payment_link'), london, NOW).text).toBe(
      'Notofine: pay your traffic ticket PV2026-004217 at https://pay.notofine.fr/p/PV2026-004217',
    );
  });

  describe('reminder_summary', () => {
    it.each([
      ['fr', 3, '2026-12-15'],
      ['fr', 1, '2026-07-20'],
      ['en', 2, '2026-12-15'],
      ['en', 1, '2026-07-20'],
    ])('says in %s what renderUnpaidSummary says (%i tickets, next due %s)', (language, count, dueDate) => {
      const user = userIn(language);
      const summary = renderUnpaidSummary({ count, totalCents: 40550, nextDueDate: dueDate, nextDueReference: 'ABC123' }, user, NOW);

      const email = renderTemplate('reminder_summary', 'email', { count, total_cents: 40550, due_date: dueDate, reference: 'ABC123' }, user, NOW);

      expect(email.subject).toBe(summary?.subject);
      expect(email.text.split('\n\n')).toContain(summary?.text);
    });

    it('writes a shorter SMS, singular or plural, upcoming or overdue', () => {
      const render = (overrides: Record<string, unknown>, user = paris): string =>
        renderTemplate('reminder_summary', 'sms', buildTemplateData('reminder_summary', { url: null, ...overrides }), user, NOW).text;

      expect(render({})).toBe('Notofine : 3 contraventions impayées (1 234,56 €). Prochaine échéance le 30 septembre 2026 (PV2026-004217).');
      expect(render({ count: 1, total_cents: 13500, due_date: '2026-07-31' })).toBe(
        'Notofine : 1 contravention impayée (135,00 €). Échéance du 31 juillet 2026 dépassée (PV2026-004217).',
      );
      expect(render({ count: 1, total_cents: 13500 }, london)).toBe('Notofine: 1 unpaid traffic ticket, total €135.00. Next due: PV2026-004217, by September 30, 2026.');
    });

    it('counts "today" in the user’s time zone: due today is not overdue yet', () => {
      // 23:30 UTC on the 22nd is already the 23rd in Paris, where the ticket is due today.
      const lateEvening = new Date('2026-11-22T23:30:00Z');

      const { text } = renderTemplate('reminder_summary', 'push', buildTemplateData('reminder_summary', { due_date: '2026-11-23' }), paris, lateEvening);

      expect(text).toContain('Prochaine échéance');
    });
  });

  describe('formats', () => {
    it.each([
      ['fr', '135,00 €', '15 décembre 2026'],
      ['fr-FR', '135,00 €', '15 décembre 2026'],
      ['fr-BE', '135,00 €', '15 décembre 2026'],
      ['en', '€135.00', 'December 15, 2026'],
      ['en-US', '€135.00', 'December 15, 2026'],
      ['en-GB', '€135.00', '15 December 2026'],
    ])('writes amounts and dates for %s as %s and %s', (locale, amount, date) => {
      const { text } = renderTemplate('ticket_due', 'push', buildTemplateData('ticket_due', { due_date: '2026-12-15' }), { locale, timezone: 'Europe/Paris' }, NOW);

      expect(text).toContain(amount);
      expect(text).toContain(date);
    });

    it('separates thousands with plain spaces, which SMS can carry', () => {
      const { text } = renderTemplate('ticket_due', 'sms', buildTemplateData('ticket_due', { amount_cents: 123456 }), paris, NOW);

      expect(text).toContain('1 234,56 €');
      expect(text).not.toMatch(/[\u00a0\u202f]/);
    });

    it('brings variables to the GSM alphabet in SMS only: août is aout there', () => {
      const data = buildTemplateData('ticket_due', { due_date: '2026-08-15', reference: 'Ç-ç’1' });

      expect(renderTemplate('ticket_due', 'sms', data, paris, NOW).text).toContain("contravention Ç-c'1 de 135,00 € est à régler avant le 15 aout 2026.");
      expect(renderTemplate('ticket_due', 'push', data, paris, NOW).text).toBe('Ç-ç’1 : 135,00 € à régler avant le 15 août 2026.');
    });
  });

  describe('languages', () => {
    it.each([
      ['de-DE', 'Contravention à régler', '15 décembre 2026'],
      ['es', 'Contravention à régler', '15 décembre 2026'],
      ['not a locale', 'Contravention à régler', '15 décembre 2026'],
      ['fr-CA', 'Contravention à régler', '15 décembre 2026'],
      ['en_GB', 'Traffic ticket due', '15 December 2026'],
      ['EN-us', 'Traffic ticket due', 'December 15, 2026'],
    ])('writes for locale %s: "%s", dates as %s', (locale, title, date) => {
      const push = renderTemplate('ticket_due', 'push', buildTemplateData('ticket_due', { due_date: '2026-12-15' }), { locale, timezone: 'Europe/Paris' }, NOW);

      expect(push.title).toBe(title);
      expect(push.text).toContain(date);
    });
  });

  describe('HTML', () => {
    const data = buildTemplateData('payment_link', {
      reference: '<script>alert("x")</script>',
      full_name: `Tom & Jerry O'Neil`,
      url: 'https://pay.notofine.fr/p?ticket=1&lang=fr',
    });

    it('escapes every variable in the HTML part', () => {
      const { html } = renderTemplate('payment_link', 'email', data, london, NOW);

      expect(html).toContain('<strong>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</strong>');
      expect(html).toContain('<p>Hello Tom &amp; Jerry O&#39;Neil,</p>');
      expect(html).toContain('<a href="https://pay.notofine.fr/p?ticket=1&amp;lang=fr">https://pay.notofine.fr/p?ticket=1&amp;lang=fr</a>');
      expect(html).not.toContain('<script>');
    });

    it('writes variables as they are in the subject, the text part, the SMS and the push', () => {
      const email = renderTemplate('payment_link', 'email', data, london, NOW);
      const push = renderTemplate('payment_link', 'push', data, london, NOW);
      const sms = renderTemplate('payment_link', 'sms', data, london, NOW);

      expect(email.subject).toBe('Your payment link: traffic ticket <script>alert("x")</script>');
      expect(email.text).toContain(`Hello Tom & Jerry O'Neil,\n\nHere is the link to pay your traffic ticket <script>alert("x")</script> for €135.00`);
      expect(email.text).toContain('https://pay.notofine.fr/p?ticket=1&lang=fr');
      expect(push.text).toContain('<script>alert("x")</script>');
      expect(sms.text).toContain('<script>alert("x")</script>');
    });
  });

  describe('refuses', () => {
    it.each([
      ['a missing variable', 'ticket_due', { amount_cents: 13500, due_date: '2026-12-15' }, 'data.reference', 'is required for ticket_due'],
      ['a null required variable', 'ticket_paid', { reference: null, amount_cents: 13500 }, 'data.reference', 'is required for ticket_paid'],
      ['an empty reference', 'ticket_paid', { reference: '  ', amount_cents: 13500 }, 'data.reference', 'must be a text of 1 to 64 characters on one line'],
      ['a reference on two lines', 'ticket_paid', { reference: 'A\nB', amount_cents: 13500 }, 'data.reference', 'must be a text of 1 to 64 characters on one line'],
      ['cents with a fraction', 'ticket_paid', { reference: 'A1', amount_cents: 135.5 }, 'data.amount_cents', 'must be an amount in cents: a whole number, 0 or more'],
      ['cents as a string', 'ticket_paid', { reference: 'A1', amount_cents: '13500' }, 'data.amount_cents', 'must be an amount in cents: a whole number, 0 or more'],
      ['negative cents', 'ticket_overdue', { reference: 'A1', amount_cents: 13500, due_date: '2026-12-15', amount_increased_cents: -1 }, 'data.amount_increased_cents', 'must be an amount in cents: a whole number, 0 or more'],
      ['a date in another format', 'ticket_due', { reference: 'A1', amount_cents: 13500, due_date: '15/12/2026' }, 'data.due_date', 'must be a date written YYYY-MM-DD'],
      ['a date that does not exist', 'ticket_due', { reference: 'A1', amount_cents: 13500, due_date: '2026-02-30' }, 'data.due_date', 'must be a date written YYYY-MM-DD'],
      ['no unpaid ticket', 'reminder_summary', { count: 0, total_cents: 0, due_date: '2026-12-15', reference: 'A1' }, 'data.count', 'must be a whole number, 1 or more'],
      ['a javascript: URL', 'payment_link', { reference: 'A1', url: 'javascript:alert(1)' }, 'data.url', 'must be an http or https URL of at most 2048 characters'],
      ['a variable of another kind', 'ticket_paid', { reference: 'A1', amount_cents: 13500, due_date: '2026-12-15' }, 'data.due_date', 'is not a variable of ticket_paid (reference, amount_cents, full_name)'],
      ['data that is not an object', 'ticket_paid', ['A1', 13500], 'data', 'must be an object'],
    ])('%s, naming the field', (_case, kind, data, field, message) => {
      const error = validationErrorOf(() => renderTemplate(kind, 'sms', data, paris, NOW));

      expect(error.status).toBe(400);
      expect(error.errors).toEqual([{ field, message }]);
      expect(error.detail).toBe(`${field} ${message}`);
    });

    it('an unknown kind, on the field template', () => {
      const error = validationErrorOf(() => renderTemplate('ticket_lost', 'sms', {}, paris, NOW));

      expect(error.errors).toEqual([{ field: 'template', message: 'must be one of ticket_due, ticket_overdue, ticket_paid, reminder_summary, payment_link' }]);
    });

    it('an unknown channel, on the field channel', () => {
      const error = validationErrorOf(() => renderTemplate('ticket_paid', 'fax' as Channel, buildTemplateData('ticket_paid'), paris, NOW));

      expect(error.errors).toEqual([{ field: 'channel', message: 'must be one of email, sms, push' }]);
    });
  });
});

describe('verification code messages', () => {
  it.each(LANGUAGES)('in %s: an SMS in the GSM alphabet, in one segment, and an email with a subject, the code in its text and HTML', (language) => {
    const sms = verificationMessage('phone', userIn(language), '042917');
    const email = verificationMessage('email', userIn(language), '042917');

    expect(sms.message).toContain('042917');
    expect(notGsm7(sms.message)).toEqual([]);
    expect(septets(sms.message)).toBeLessThanOrEqual(160);
    expect([sms.subject, sms.html]).toEqual([null, null]);
    expect(email.message).toContain('042917');
    expect(email.html).toContain('<strong>042917</strong>');
    expect(email.subject).toMatch(/Notofine/);
  });

  it('keeps the code masked when none is given: what the notification row holds', () => {
    expect(verificationMessage('phone', paris).message).toBe('Notofine : votre code de vérification est ******. Il expire dans 15 minutes. Ne le donnez à personne.');
  });

  it('is a kind no send can name', () => {
    expect(() => renderTemplate('contact_verification', 'sms', { code: '042917', minutes: 15 }, paris)).toThrow(ValidationError);
  });
});

describe('loadTemplates', () => {
  let directory: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'notofine-templates-'));
    cpSync(TEMPLATES_DIRECTORY, directory, { recursive: true });
  });

  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  const editTemplate = (fileName: string, edit: (template: Record<string, unknown>) => void): void => {
    const path = join(directory, fileName);
    const template = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    edit(template);
    writeFileSync(path, JSON.stringify(template));
  };

  it('loads the templates of the repository: every kind in French and in English', () => {
    const templates = loadTemplates(TEMPLATES_DIRECTORY);

    expect([...templates.keys()].sort()).toEqual(['en', 'fr']);
    for (const byKind of templates.values()) expect([...byKind.keys()].sort()).toEqual([...ALL_KINDS].sort());
  });

  it('refuses a template with a variable its kind does not have', () => {
    editTemplate('ticket_due.en.json', (template) => {
      template.sms = 'Notofine: {{reference}} for {{amout}} is due by {{due_date}}.';
    });

    expect(() => loadTemplates(directory)).toThrow(/ticket_due\.en\.json: sms: \{\{amout\}\} is not a variable of ticket_due \(reference, amount, due_date, url, full_name\)/);
  });

  it('refuses a template without one of the channels', () => {
    editTemplate('ticket_paid.fr.json', (template) => {
      delete template.push;
    });

    expect(() => loadTemplates(directory)).toThrow(/ticket_paid\.fr\.json: push is missing/);
  });

  it('lists every problem of every file in one error', () => {
    editTemplate('ticket_paid.fr.json', (template) => {
      template.sms = 'Notofine : paiement de {{amount}} pour {{reference}}{{#url}} {{url}}';
      template.email = { subject: 'Paiement\nconfirmé', text: [], html: ['<p>{{reference}</p>', '<p>{{ amount | upper }}</p>'], footer: 'x' };
    });
    editTemplate('reminder_summary.en.json', (template) => {
      template.sms = 'Notofine: {{count}} tickets, {{plural}}, next {{reference}} {{due_date}} {{url}}';
    });
    unlinkSync(join(directory, 'payment_link.en.json'));
    writeFileSync(join(directory, 'ticket_due.de.json'), '{ "sms": ');

    const error = (() => {
      try {
        loadTemplates(directory);
      } catch (thrown) {
        return thrown as Error;
      }
      throw new Error('expected loadTemplates to throw');
    })();

    const problems = error.message.split('\n').slice(1).map((line) => line.replace(/^ {2}- /, ''));
    expect(error.message.split('\n')[0]).toBe(`Message templates in ${directory} are not valid:`);
    expect(problems).toEqual([
      'reminder_summary.en.json: sms: {{plural}} is a condition, for {{#plural}} and {{^plural}} sections only',
      'reminder_summary.en.json: sms: {{url}} is optional, write it inside {{#url}}…{{/url}}',
      expect.stringMatching(/^ticket_due\.de\.json: .*JSON/),
      'ticket_paid.fr.json: email.footer is not a known key (email.subject, email.text, email.html)',
      'ticket_paid.fr.json: sms: {{#url}} is never closed',
      'ticket_paid.fr.json: email.subject must be one line',
      'ticket_paid.fr.json: email.text must be a list of paragraphs',
      'ticket_paid.fr.json: email.html[0]: unclosed tag near "<p>{{reference}</p>"',
      'ticket_paid.fr.json: email.html[1]: malformed tag {{ amount | upper }}',
      'payment_link.en.json is missing: every language has every kind',
      ...ALL_KINDS.map((kind) => `${kind}.de.json is missing: every language has every kind`).filter((line) => !line.startsWith('ticket_due')),
    ]);
  });

  it('refuses SMS texts with characters outside the GSM alphabet', () => {
    editTemplate('ticket_paid.fr.json', (template) => {
      template.sms = 'Notofine : paiement reçu pour la contravention {{reference}} — merci d’être passé.';
    });

    expect(() => loadTemplates(directory)).toThrow('ticket_paid.fr.json: sms has characters outside the GSM alphabet of SMS: ç — ’ ê');
  });

  it('refuses a directory without French templates, the language of last resort', () => {
    for (const kind of ALL_KINDS) unlinkSync(join(directory, `${kind}.fr.json`));

    expect(() => loadTemplates(directory)).toThrow('no fr templates: fr is the language of users whose own has none');
  });

  it('says which directory it could not read', () => {
    expect(() => loadTemplates(join(directory, 'nowhere'))).toThrow(`Message templates: cannot read the directory ${join(directory, 'nowhere')}`);
  });
});
