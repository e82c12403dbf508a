/**
 * A copy of the configuration safe to log, print or publish on `bridge/info`: the MQTT password, the
 * live view's password (`http.auth`), the TLS private key path and any password embedded in the broker
 * URL or an RTSP camera URL are replaced by `REDACTED`.
 */
import { REDACTED, redactUrl, urlPasswords } from '../observability/redact-url.js';
import type { FaceedgeConfig } from './config-schema.js';

export { REDACTED, redactUrl } from '../observability/redact-url.js';

/** Deep copy of `config` with secrets replaced; the input is not modified. */
export function redactConfig(config: FaceedgeConfig): FaceedgeConfig {
  const copy = structuredClone(config) as { -readonly [K in keyof FaceedgeConfig]: any };
  const mqtt = copy.mqtt;
  if (mqtt.password !== undefined) mqtt.password = REDACTED;
  if (mqtt.url !== undefined) mqtt.url = redactUrl(mqtt.url);
  if (mqtt.tls?.key !== undefined) mqtt.tls.key = REDACTED;
  if (copy.http.auth !== undefined) copy.http.auth.password = REDACTED;
  // bridge/info publishes the config: a camera URL's password (rtsp://user:password@camera/stream) must
  // not reach every subscriber. File paths (no URLs: the schema refuses them there) are left as they are.
  for (const camera of copy.cameras as { source: Record<string, unknown> }[]) {
    if (typeof camera.source.path === 'string') camera.source.path = redactUrl(camera.source.path);
  }
  return copy as FaceedgeConfig;
}

/**
 * The secret values of `config` (the MQTT password, passwords inside the broker and camera URLs), for
 * the log writer to remove wherever they would appear (`createLogger({ secrets })`).
 */
export function configSecrets(config: FaceedgeConfig): string[] {
  const secrets: string[] = [];
  if (config.mqtt.password) secrets.push(config.mqtt.password);
  if (config.mqtt.url) secrets.push(...urlPasswords(config.mqtt.url));
  for (const camera of config.cameras) {
    const path = (camera.source as { path?: unknown }).path;
    if (typeof path === 'string') secrets.push(...urlPasswords(path));
  }
  return secrets;
}
