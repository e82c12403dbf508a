/**
 * Credentials inside URLs (`mqtt://user:password@broker`, `rtsp://admin:pw@camera/stream`) replaced by
 * `***`, for anything logged, printed or published. The one definition of how a URL is redacted: the
 * config redaction, camera names, error messages and the log writer all use it.
 */

/** What a password is replaced with. */
export const REDACTED = '***';

/**
 * `scheme://user:password@` up to the last `@` before the host. Passwords are often written unencoded,
 * so a password may itself contain `@`, `/` or `:`; the match is greedy up to the last `@` that is
 * followed by a host-like run (no whitespace or quote), which over-redacts at worst, never under.
 */
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s"'@/:]*):([^\s"']*)@(?=[^\s"'@]+)/gi;

/**
 * `mqtt://user:secret@host:1883` → `mqtt://user:***@host:1883`. The user name is kept (it says which
 * account is meant and is not a secret); a URL without a password is returned unchanged.
 */
export function redactUrl(url: string): string {
  return redactUrlsIn(url);
}

/** Every URL password inside free text (a log line, an error message, ffmpeg's stderr) replaced by `***`. */
export function redactUrlsIn(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
}

/**
 * The passwords inside `url`, as written and percent-decoded (a program may print either spelling).
 * Empty for a URL without one.
 */
export function urlPasswords(url: string): string[] {
  CREDENTIALS.lastIndex = 0;
  const found: string[] = [];
  for (const match of url.matchAll(CREDENTIALS)) {
    const password = match[3];
    if (!password) continue;
    found.push(password);
    try {
      const decoded = decodeURIComponent(password);
      if (decoded !== password) found.push(decoded);
    } catch {
      // not valid percent-encoding: only the spelling as written can appear
    }
  }
  return found;
}

/**
 * A function that removes URL credentials and the given literal secrets (a configured MQTT password,
 * wherever an error message might echo it) from a text. Secrets shorter than 4 characters are only
 * caught inside URLs: replacing every "pw" in a log line would garble it without protecting anything.
 */
export function secretScrubber(secrets: readonly (string | undefined)[]): (text: string) => string {
  const literals = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4))]
    // Longest first, so a secret containing another is replaced whole.
    .sort((a, b) => b.length - a.length);
  // Inside a JSON log line a secret with quotes or backslashes is escaped: match that spelling too.
  const spellings = literals.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  return (text) => {
    let clean = redactUrlsIn(text);
    for (const secret of spellings) if (clean.includes(secret)) clean = clean.split(secret).join(REDACTED);
    return clean;
  };
}
