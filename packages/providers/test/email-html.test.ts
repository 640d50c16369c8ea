import { emailHtml, htmlPartOf } from '../src/email-html';

/** The body of the generated document, between its <body> tags. */
function body(html: string): string {
  return /<body>\n([\s\S]*)\n<\/body>/.exec(html)?.[1] ?? '';
}

it('makes a UTF-8 HTML document, in French unless told otherwise', () => {
  const html = emailHtml('Bonjour');

  expect(html).toMatch(/^<!doctype html>\n<html lang="fr"><head><meta charset="utf-8"><\/head>/);
  expect(body(html)).toBe('<p>Bonjour</p>');
  expect(emailHtml('Hello', 'en')).toContain('<html lang="en">');
});

it('turns blank lines into paragraphs and single line breaks into <br>', () => {
  const html = emailHtml('Bonjour,\n\nVotre contravention #ABC123 est due.\nMerci de la régler.\n\n\nNotofine');

  expect(body(html)).toBe('<p>Bonjour,</p>\n<p>Votre contravention #ABC123 est due.<br>\nMerci de la régler.</p>\n<p>Notofine</p>');
});

it('takes a line of nothing but spaces for a blank line', () => {
  expect(body(emailHtml('Bonjour,\n  \t\nÀ bientôt'))).toBe('<p>Bonjour,</p>\n<p>À bientôt</p>');
});

it('reads Windows and old Mac line endings as line breaks', () => {
  expect(body(emailHtml('un\r\n\r\ndeux\rtrois'))).toBe('<p>un</p>\n<p>deux<br>\ntrois</p>');
});

it('escapes everything that HTML would read as markup', () => {
  const html = emailHtml(`<script>alert("x")</script> & l'amende <b>135 €</b>`);

  expect(body(html)).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; l&#39;amende &lt;b&gt;135 €&lt;/b&gt;</p>');
  expect(html).not.toContain('<script>');
});

it('makes no empty paragraph of blank text', () => {
  expect(body(emailHtml('\n\n  \n\n'))).toBe('');
});

it('wraps a template\'s own HTML body in the document as it is, in the message\'s language', () => {
  const html = htmlPartOf({ text: 'Hello', html: '<p>Hello <strong>Jean</strong></p>', lang: 'en' });

  expect(html).toMatch(/^<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><\/head>/);
  expect(body(html)).toBe('<p>Hello <strong>Jean</strong></p>');
});

it('writes the HTML part from the text when the message has no HTML of its own, its unsubscribe link made a link', () => {
  const url = 'https://notify.example.test/unsubscribe/a.b';

  expect(body(htmlPartOf({ text: `Bonjour\n\n-- \nNe plus recevoir ces emails : ${url}`, unsubscribeUrl: url }))).toBe(
    `<p>Bonjour</p>\n<p>-- <br>\nNe plus recevoir ces emails : <a href="${url}">${url}</a></p>`,
  );
});
