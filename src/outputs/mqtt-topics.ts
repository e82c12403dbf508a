/** Every topic of the MQTT contract (DESIGN.md), built in one place from the base topic and device id. */

/** True when `topic` matches the subscription `filter` (`+` one level, a final `#` any remaining levels). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class MqttTopics {
  /** `<base>/<device>`, the prefix of every device topic. */
  readonly root: string;

  /**
   * @param baseTopic first level(s), default `faceedge` in config.
   * @param deviceId one topic level identifying the board.
   */
  constructor(baseTopic: string, deviceId: string) {
    this.root = `${baseTopic}/${deviceId}`;
  }

  /** `online`/`offline`, retained; also the LWT topic. */
  get availability(): string {
    return `${this.root}/availability`;
  }

  /** Retained description of the running daemon. */
  get bridgeInfo(): string {
    return `${this.root}/bridge/info`;
  }

  /** Subscription filter of every request. */
  get bridgeRequestFilter(): string {
    return `${this.root}/bridge/request/#`;
  }

  /** The command named by a request topic (`…/bridge/request/model/reload` → `model/reload`), or null. */
  commandOf(requestTopic: string): string | null {
    const prefix = `${this.root}/bridge/request/`;
    if (!requestTopic.startsWith(prefix)) return null;
    const cmd = requestTopic.slice(prefix.length);
    return cmd === '' ? null : cmd;
  }

  bridgeResponse(command: string): string {
    return `${this.root}/bridge/response/${command}`;
  }

  /** Track events of one camera. */
  events(camera: string): string {
    return `${this.root}/${camera}/events`;
  }

  /** Filter matching every camera's events. */
  get eventsFilter(): string {
    return `${this.root}/+/events`;
  }

  /** `ON` while any face is tracked on the camera, retained. */
  face(camera: string): string {
    return `${this.root}/${camera}/face`;
  }

  /** `online`/`offline` of the camera's capture, retained. */
  captureStatus(camera: string): string {
    return `${this.root}/${camera}/status/capture`;
  }

  get stats(): string {
    return `${this.root}/stats`;
  }

  /** What the rules did (one message per action, not retained). */
  get rulesAction(): string {
    return `${this.root}/rules/action`;
  }

  /** Commands to a GPIO output (`ON`/`OFF`/pulse). */
  gpioSet(name: string): string {
    return `${this.root}/gpio/${name}/set`;
  }

  /** A GPIO line's state, `ON`/`OFF`, retained. */
  gpioState(name: string): string {
    return `${this.root}/gpio/${name}/state`;
  }

  /** Subscription filter for every output's commands. */
  get gpioSetFilter(): string {
    return `${this.root}/gpio/+/set`;
  }

  /** The output named by a `…/gpio/<name>/set` topic of this device, or null for any other topic. */
  gpioNameOfSet(topic: string): string | null {
    const prefix = `${this.root}/gpio/`;
    if (!topic.startsWith(prefix) || !topic.endsWith('/set')) return null;
    const name = topic.slice(prefix.length, -'/set'.length);
    return /^[A-Za-z0-9_-]+$/.test(name) ? name : null;
  }
}
