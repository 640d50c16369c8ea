// The providers' check, which picks Vonage's encoding on the wire (not exported by the package).
import { isGsm7 as providersIsGsm7 } from '../../providers/src/gsm';
import { isGsm7, messageOn, smsSegments, smsText } from '../src';

describe('smsText', () => {
  it('spells the service\'s own texts in the GSM alphabet: accents outside it dropped, typography replaced', () => {
    expect(smsText('Échéance du 15 août dépassée, reçu « payé » – merci…', 'service')).toBe('Échéance du 15 aout dépassée, recu " payé " - merci...');
  });

  it('keeps a caller\'s letters as written, replacing only typographic variants', () => {
    expect(smsText('L’amende\u00a0: 135 € – « à régler »…', 'caller')).toBe('L\'amende : 135 € - " à régler "...');
    expect(smsText('Vous êtes sûr ? Cœur', 'caller')).toBe('Vous êtes sûr ? Cœur');
    expect(smsText('Cœur de l’été', 'caller')).toBe('Coeur de l\'été');
  });

  it('leaves a text with a character the alphabet has no equivalent for as written: it goes in UCS-2 anyway', () => {
    for (const author of ['caller', 'service'] as const) {
      expect(smsText('Rendez-vous le 15 août ’ 🚗', author)).toBe('Rendez-vous le 15 août ’ 🚗');
      expect(smsText('Привет – août', author)).toBe('Привет – août');
    }
  });

  it('leaves a text as written when bringing it to the alphabet would make it longer than a message may be', () => {
    const text = `${'a'.repeat(1598)}…`;
    expect(smsText(text, 'caller')).toBe(text);
    expect(smsText(`${'a'.repeat(1597)}…`, 'caller')).toBe(`${'a'.repeat(1597)}...`);
  });

  it('drops invisible characters and brings every kind of space to a plain one', () => {
    expect(smsText('135\u202f€\u200b, le\u00a01er\u2009mai\u00ad', 'caller')).toBe('135 €, le 1er mai');
  });

  it('touches nothing but SMS', () => {
    expect(messageOn('email', 'août ’', 'service')).toBe('août ’');
    expect(messageOn('push', 'août ’', 'service')).toBe('août ’');
    expect(messageOn('sms', 'août ’', 'service')).toBe('aout \'');
  });
});

describe('smsSegments', () => {
  it('counts GSM-7 septets, 160 in one segment and 153 a segment beyond, an extension character taking two', () => {
    expect(smsSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', units: 161, segments: 2 });
    expect(smsSegments('a'.repeat(306))).toEqual({ encoding: 'GSM-7', units: 306, segments: 2 });
    expect(smsSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments('€'.repeat(81))).toEqual({ encoding: 'GSM-7', units: 162, segments: 2 });
  });

  it('counts UCS-2 code units, 70 in one segment and 67 a segment beyond, an emoji taking two', () => {
    expect(smsSegments('â'.repeat(70))).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(smsSegments('â'.repeat(71))).toEqual({ encoding: 'UCS-2', units: 71, segments: 2 });
    expect(smsSegments('🚗'.repeat(35))).toEqual({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(smsSegments('â'.repeat(135))).toEqual({ encoding: 'UCS-2', units: 135, segments: 3 });
  });
});

it('agrees with the providers on which characters are in the GSM alphabet (they choose the encoding on the wire)', () => {
  const disagreements: string[] = [];
  for (let code = 0; code <= 0xffff; code += 1) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const char = String.fromCharCode(code);
    if (isGsm7(char) !== providersIsGsm7(char)) disagreements.push(`U+${code.toString(16).padStart(4, '0')}`);
  }
  expect(disagreements).toEqual([]);
});
