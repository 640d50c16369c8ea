// The GSM 03.38 default alphabet and its extension table (the extension characters take two
// septets). A text made only of these is sent as GSM 7-bit, 160 characters a segment; any other
// character turns the whole SMS into UCS-2, 70 a segment.
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const EXTENSION = '^{}\\[~]|€\f';
const GSM7 = new Set([...BASIC, ...EXTENSION]);

/** Whether an SMS text can be sent in the GSM 7-bit alphabet (otherwise it needs UCS-2). */
export function isGsm7(text: string): boolean {
  for (const char of text) if (!GSM7.has(char)) return false;
  return true;
}
