/** Replies that unsubscribe from SMS, as carriers and regulators know them (English and French). */
const STOP_WORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'ARRET', 'STOPPER', 'DESABONNER', 'DESINSCRIPTION']);
/** Replies that subscribe again. */
const START_WORDS = new Set(['START', 'UNSTOP', 'YES', 'SUBSCRIBE', 'REPRENDRE']);

/**
 * What an SMS reply asks: `stop` (unsubscribe), `start` (subscribe again), or nothing. Only the
 * first word counts, case and accents aside (`Stop`, `ARRÊT`, `stop svp`), as carriers do.
 */
export function smsReplyIntent(text: string | undefined): 'stop' | 'start' | null {
  const first = (text ?? '')
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .trim()
    .split(/\s+/)[0]
    ?.replace(/[^A-Za-z]/g, '')
    .toUpperCase();
  if (!first) return null;
  if (STOP_WORDS.has(first)) return 'stop';
  if (START_WORDS.has(first)) return 'start';
  return null;
}
