import type { EmailMessage } from './provider';

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe to write inside HTML, attribute values included. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/**
 * The HTML part of an email written in plain text: escaped (a message is never markup), blank
 * lines make paragraphs, single line breaks stay line breaks. Both email providers send it next to
 * the text, so that clients which show the HTML part keep the message's layout.
 */
export function emailHtml(text: string, lang = 'fr', unsubscribeUrl?: string): string {
  // The unsubscribe link the text carries becomes a real link.
  const link = unsubscribeUrl && escapeHtml(unsubscribeUrl);
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    // A line of nothing but spaces, invisible to the reader, separates paragraphs too.
    .split(/\n(?:[ \t]*\n)+/)
    .map((paragraph) => paragraph.trim())
    .filter(Boolean)
    .map((paragraph) => escapeHtml(paragraph).replace(/\n/g, '<br>\n'))
    .map((paragraph) => `<p>${link ? paragraph.split(link).join(`<a href="${link}">${link}</a>`) : paragraph}</p>`);
  return emailDocument(paragraphs.join('\n'), lang);
}

/** A whole HTML document around a body that is already HTML (a template's). */
export function emailDocument(bodyHtml: string, lang = 'fr'): string {
  return `<!doctype html>\n<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"></head><body>\n${bodyHtml}\n</body></html>\n`;
}

/** The HTML part of a message: its own HTML body when it has one, otherwise written from its text. */
export function htmlPartOf(message: Pick<EmailMessage, 'text' | 'html' | 'lang' | 'unsubscribeUrl'>): string {
  return message.html !== undefined ? emailDocument(message.html, message.lang) : emailHtml(message.text, message.lang, message.unsubscribeUrl);
}
