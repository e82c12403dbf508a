/**
 * What the schema's pattern cannot see in `mqtt.url`: a port outside 1–65535 or a missing host, which
 * `faceedge run` would only find when it connects. The message never quotes the URL (it may hold a password).
 */

/** URL schemes MQTT.js connects with. */
export const BROKER_URL_PATTERN = /^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/;

/** Why `url` cannot be connected to, or null when it can (as far as can be told without connecting). */
export function brokerUrlProblem(url: string): string | null {
  if (!BROKER_URL_PATTERN.test(url)) return null; // the pattern's own message says it
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const port = /^[a-z]+:\/\/(?:.*@)?(?:\[[^\]]*\]|[^:/@]*):(\d+)/i.exec(url)?.[1];
    if (port !== undefined && Number(port) > 65535) return `port ${port} is out of range (1 to 65535)`;
    return 'not a valid URL (scheme://[user:password@]host[:port])';
  }
  if (!parsed.hostname) return 'the URL has no host';
  if (parsed.port === '0') return 'port 0 is out of range (1 to 65535)';
  return null;
}
