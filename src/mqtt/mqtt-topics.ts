/**
 * Every topic of the MQTT contract (DESIGN.md), the boards' and the workstation's, built in one place: the
 * daemon publishes and subscribes with `MqttTopics`, the model push's two ends address a transfer with it,
 * `faceedge fleet` reads the boards through `FleetTopics`, Home Assistant discovery uses
 * `HomeAssistantTopics`, and the bridge config and the broker ACL are written from the same functions, so
 * none of them can drift from what a board really uses.
 */

/** `mqtt.base_topic` when the config names none, and the workstation commands' `--base-topic` default. */
export const DEFAULT_BASE_TOPIC = 'faceedge';

/** `homeassistant.discovery_prefix` when the config names none: Home Assistant's own default. */
export const HA_DISCOVERY_PREFIX = 'homeassistant';

/** The levels after a transfer id of a model push (src/model-push/mqtt-push-protocol.ts): a chunk is its number. */
export type ModelPushPart = 'begin' | 'commit' | 'status' | number;

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

  /** Everything the board publishes or is sent: the whole subtree (what its ACL lets it write). */
  get subtree(): string {
    return `${this.root}/#`;
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

  /** Where a request for `command` is published (by an operator or `faceedge fleet`). */
  bridgeRequest(command: string): string {
    return `${this.root}/bridge/request/${command}`;
  }

  bridgeResponse(command: string): string {
    return `${this.root}/bridge/response/${command}`;
  }

  /** Filter matching every response. */
  get bridgeResponseFilter(): string {
    return `${this.root}/bridge/response/#`;
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

  /** Filter matching every camera's face state. */
  get faceFilter(): string {
    return `${this.root}/+/face`;
  }

  /**
   * Who the camera sees, retained (issue 23): `{"person": name | "unknown" | "none", "similarity",
   * "liveness", "track"}` (src/mqtt/person-state.ts).
   */
  person(camera: string): string {
    return `${this.root}/${camera}/person`;
  }

  /** Filter matching every camera's person state. */
  get personFilter(): string {
    return `${this.root}/+/person`;
  }

  /** `online`/`offline` of the camera's capture, retained. */
  captureStatus(camera: string): string {
    return `${this.root}/${camera}/status/capture`;
  }

  /** Filter matching every camera's capture status. */
  get captureStatusFilter(): string {
    return `${this.root}/+/status/capture`;
  }

  get stats(): string {
    return `${this.root}/stats`;
  }

  /** Prefix of the chunked model push (`…/model/push/<transfer>/<part>`, src/model-push/mqtt-push-protocol.ts). */
  get modelPush(): string {
    return `${this.root}/model/push`;
  }

  /** One message of a model push: `begin`, chunk `<n>`, `commit` (to the board) or `status` (from it). */
  modelPushPart(transfer: string, part: ModelPushPart): string {
    return `${this.modelPush}/${transfer}/${part}`;
  }

  /** Filter matching every part of every transfer (what the board's receiver subscribes to). */
  get modelPushFilter(): string {
    return `${this.modelPush}/+/+`;
  }

  /** Filter matching every transfer's status (what the board answers). */
  get modelPushStatusFilter(): string {
    return `${this.modelPush}/+/status`;
  }

  /** The whole model-push subtree (what the board's ACL lets it read). */
  get modelPushSubtree(): string {
    return `${this.modelPush}/#`;
  }

  /** The transfer id and part level of a model-push topic of this board; null for any other topic. */
  modelPushPartOf(topic: string): { readonly transfer: string; readonly part: string } | null {
    const prefix = `${this.modelPush}/`;
    if (!topic.startsWith(prefix)) return null;
    const levels = topic.slice(prefix.length).split('/');
    return levels.length === 2 ? { transfer: levels[0], part: levels[1] } : null;
  }

  /**
   * The audit trail: one message per request that changes the board, accepted or refused (QoS 1, not
   * retained; src/mqtt/audit-trail.ts).
   */
  get audit(): string {
    return `${this.root}/audit`;
  }

  /**
   * One message per lock decision of a person rule, not retained (src/rules/access-decision.ts): every refusal
   * is an `access_denied` event, every grant an `access_granted`.
   */
  get access(): string {
    return `${this.root}/access`;
  }

  /**
   * Every topic on which the board takes a request that changes it (bridge requests, GPIO commands, the
   * begin and commit of a model push): the embedded broker writes down who published on these for the audit.
   */
  get requestFilters(): string[] {
    return [
      this.bridgeRequestFilter,
      this.gpioSetFilter,
      this.modelPushPart('+', 'begin'),
      this.modelPushPart('+', 'commit'),
    ];
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

  /** Filter matching every line's state. */
  get gpioStateFilter(): string {
    return `${this.root}/gpio/+/state`;
  }

  /** The output named by a `…/gpio/<name>/set` topic of this device, or null for any other topic. */
  gpioNameOfSet(topic: string): string | null {
    const prefix = `${this.root}/gpio/`;
    if (!topic.startsWith(prefix) || !topic.endsWith('/set')) return null;
    const name = topic.slice(prefix.length, -'/set'.length);
    return /^[A-Za-z0-9_-]+$/.test(name) ? name : null;
  }
}

/**
 * The fleet side of the contract: filters over every board under one base topic, for `faceedge fleet`
 * (status, rollout) and event consumers. A device id is the level right after the base topic.
 */
export class FleetTopics {
  /** @param baseTopic the boards' `mqtt.base_topic`, default `faceedge`. */
  constructor(readonly baseTopic: string = DEFAULT_BASE_TOPIC) {}

  /** Every board's every topic (what an operator account may read and write). */
  get subtree(): string {
    return `${this.baseTopic}/#`;
  }

  /** One board's topics. */
  device(deviceId: string): MqttTopics {
    return new MqttTopics(this.baseTopic, deviceId);
  }

  get availabilityFilter(): string {
    return `${this.baseTopic}/+/availability`;
  }

  get bridgeInfoFilter(): string {
    return `${this.baseTopic}/+/bridge/info`;
  }

  get captureStatusFilter(): string {
    return `${this.baseTopic}/+/+/status/capture`;
  }

  get statsFilter(): string {
    return `${this.baseTopic}/+/stats`;
  }

  /** The retained topics that describe a board (what `fleet status` reads). */
  get statusFilters(): string[] {
    return [this.availabilityFilter, this.bridgeInfoFilter, this.captureStatusFilter, this.statsFilter];
  }

  /** Every board's and camera's track events. */
  get eventsFilter(): string {
    return `${this.baseTopic}/+/+/events`;
  }

  /**
   * MQTT 5 shared subscription of every event: the broker hands each message to one member of `group`,
   * so consumers scale out by joining the same group.
   */
  sharedEvents(group: string): string {
    if (!/^[^/#+\s]+$/.test(group)) throw new Error(`share group "${group}" must be one topic level without wildcards`);
    return `$share/${group}/${this.eventsFilter}`;
  }

  /** Splits a topic under the base into its device id and the levels after it; null for other topics. */
  parse(topic: string): { device: string; rest: string[] } | null {
    const prefix = `${this.baseTopic}/`;
    if (!topic.startsWith(prefix)) return null;
    const [device, ...rest] = topic.slice(prefix.length).split('/');
    return device && rest.length > 0 ? { device, rest } : null;
  }
}

/** Home Assistant's side of the contract: device discovery and HA's own status (its birth message). */
export class HomeAssistantTopics {
  /** @param prefix `homeassistant.discovery_prefix`, default `homeassistant`. */
  constructor(readonly prefix: string = HA_DISCOVERY_PREFIX) {}

  /** `<prefix>/device/<dev>/config`: one board's device discovery, retained. */
  discovery(deviceId: string): string {
    return `${this.prefix}/device/${deviceId}/config`;
  }

  /** Filter matching every board's device discovery. */
  get discoveryFilter(): string {
    return this.discovery('+');
  }

  /** Where HA announces itself (`online` after it starts). */
  get status(): string {
    return `${this.prefix}/status`;
  }

  /** Everything under the prefix (what an operator account may read). */
  get subtree(): string {
    return `${this.prefix}/#`;
  }
}
