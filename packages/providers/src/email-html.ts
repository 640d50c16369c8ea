const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
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
  return `<!doctype html>\n<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"></head><body>\n${paragraphs.join('\n')}\n</body></html>\n`;
}
