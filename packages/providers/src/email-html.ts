const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The HTML part of an email written in plain text: escaped (a message is never markup), blank
 * lines make paragraphs, single line breaks stay line breaks.
 */
export function emailHtml(text: string, lang = 'fr'): string {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((paragraph) => paragraph.trim())
    .filter(Boolean)
    .map((paragraph) => `<p>${paragraph.replace(/[&<>"']/g, (char) => ESCAPES[char]!).replace(/\n/g, '<br>\n')}</p>`);
  return `<!doctype html>\n<html lang="${lang}"><head><meta charset="utf-8"></head><body>\n${paragraphs.join('\n')}\n</body></html>\n`;
}
