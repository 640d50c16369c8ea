import { LIMITS, type Channel } from '@notofine/db';

// The GSM 03.38 default alphabet and its extension table (the extension characters take two
// septets). A text made only of these is sent as GSM 7-bit, 160 characters in one segment; any
// other character turns the whole SMS into UCS-2, 70 in one segment. The providers' own check,
// which picks the encoding on the wire (packages/providers/src/gsm.ts), must agree: a test
// compares them.
const GSM7_BASIC = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';
const GSM7 = new Set([...GSM7_BASIC, ...GSM7_EXTENSION]);
const EXTENSION = new Set(GSM7_EXTENSION);

/** Whether a character is in the GSM 7-bit alphabet (its extension table included). */
export function isGsm7Character(char: string): boolean {
  return GSM7.has(char);
}

/** Whether a whole text can be sent in the GSM 7-bit alphabet (otherwise it goes as UCS-2). */
export function isGsm7(text: string): boolean {
  for (const char of text) if (!GSM7.has(char)) return false;
  return true;
}

/**
 * Characters that are another way of writing GSM ones, the words unchanged: typographic quotes and
 * apostrophes, dashes, spaces (no-break, narrow, thin...), the ellipsis, ligatures, and invisible
 * ones (zero-width spaces, the soft hyphen, a byte-order mark), which are dropped.
 */
const TYPOGRAPHIC: Readonly<Record<string, string>> = {
  '‘': "'",
  '’': "'",
  '‚': "'",
  '‛': "'",
  '‹': "'",
  '›': "'",
  '“': '"',
  '”': '"',
  '„': '"',
  '‟': '"',
  '«': '"',
  '»': '"',
  '‐': '-',
  '‑': '-',
  '‒': '-',
  '–': '-',
  '—': '-',
  '―': '-',
  '−': '-',
  '…': '...',
  '\u00a0': ' ',
  '\u2002': ' ',
  '\u2003': ' ',
  '\u2004': ' ',
  '\u2005': ' ',
  '\u2006': ' ',
  '\u2007': ' ',
  '\u2008': ' ',
  '\u2009': ' ',
  '\u200a': ' ',
  '\u202f': ' ',
  '\u205f': ' ',
  '\u3000': ' ',
  '\u200b': '',
  '\u2060': '',
  '\ufeff': '',
  '\u00ad': '',
  œ: 'oe',
  Œ: 'OE',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
};

/**
 * Who wrote an SMS text, which decides how far it may be changed to stay in the GSM alphabet:
 * - `caller`: a client's own words (a send's or a ticket notice's `message`, a reminder's
 *   `message`): only typographic variants are replaced (`’` → `'`, `«»` → `"`, `–` → `-`, `…` →
 *   `...`, no-break spaces → spaces, `œ` → `oe`); its letters stay as written (`sûr` is not `sur`).
 * - `service`: texts the service writes itself (templates, reminder summaries), which it may spell
 *   as SMS usually are: accented letters outside the alphabet lose their accent too (`août` →
 *   `aout`, `ç` → `c`, `ê` → `e`).
 */
export type SmsAuthor = 'caller' | 'service';

/**
 * The text an SMS carries: brought to the GSM 7-bit alphabet as far as its author allows (see
 * {@link SmsAuthor}) when the whole text then fits it (and stays within the message limit); as
 * written otherwise. A character that has no GSM equivalent (an emoji, Cyrillic) sends the whole
 * SMS in UCS-2 anyway, which carries every character: nothing is gained by changing the others.
 */
export function smsText(text: string, author: SmsAuthor): string {
  if (isGsm7(text)) return text;
  const brought = Array.from(text, (char) => {
    if (GSM7.has(char)) return char;
    const typographic = TYPOGRAPHIC[char];
    if (typographic !== undefined) return typographic;
    if (author === 'service') {
      const unaccented = char.normalize('NFD').replace(/\p{M}/gu, '');
      if (unaccented && isGsm7(unaccented)) return unaccented;
    }
    return char;
  }).join('');
  return brought.length <= LIMITS.message && isGsm7(brought) ? brought : text;
}

/**
 * A notification's text as written on its channel: every SMS the service writes (sends, batches,
 * ticket notices, reminders, their summaries, the texts of fallback stand-ins) goes through
 * {@link smsText}; other channels carry the text as it is.
 */
export function messageOn(channel: Channel, text: string, author: SmsAuthor): string {
  return channel === 'sms' ? smsText(text, author) : text;
}

/** How an SMS goes on the wire, and how many segments (each billed as one SMS) it takes. */
export interface SmsSegments {
  readonly encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7, an extension character taking two) or UTF-16 code units (UCS-2, an emoji taking two). */
  readonly units: number;
  readonly segments: number;
}

/**
 * The segments of an SMS text: in GSM-7, 160 septets in one segment, 153 a segment when it takes
 * several (the rest carries the header that joins them); in UCS-2, 70 and 67 code units. A
 * provider may need one more when a two-unit character would straddle two segments.
 */
export function smsSegments(text: string): SmsSegments {
  if (isGsm7(text)) {
    let units = 0;
    for (const char of text) units += EXTENSION.has(char) ? 2 : 1;
    return { encoding: 'GSM-7', units, segments: segmentsOf(units, 160, 153) };
  }
  return { encoding: 'UCS-2', units: text.length, segments: segmentsOf(text.length, 70, 67) };
}

function segmentsOf(units: number, single: number, part: number): number {
  if (units <= single) return 1;
  return Math.ceil(units / part);
}
