/**
 * A URL as it may be shown in logs and error messages: the password replaced by `***`.
 * Returns the input unchanged when it does not parse as a URL.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
