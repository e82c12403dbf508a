/**
 * `faceedge fleet bridge-config`: the Mosquitto `connection` block that bridges a site broker (where the
 * boards are) to the central broker (where the operator, event consumers and other sites are).
 *
 * Out (site → central): everything a board publishes that the centre needs: availability, bridge/info,
 * stats, capture and face states, events, GPIO states, rule actions, lock decisions, request responses, model-push
 * status and HA discovery. In (central → site): bridge requests and model-push messages. QoS 1 both ways,
 * `cleansession false` on both ends and the site broker's queue keep QoS 1 messages (events) through a
 * link or central outage; the boards' own outbox covers an outage of the site broker.
 */
import { FleetTopics, HomeAssistantTopics } from '../mqtt/mqtt-topics.js';

export interface BridgeConfigOptions {
  /** Site name: the connection and remote client id are `faceedge-<site>`. */
  readonly site: string;
  /** `host:port` of the central broker. */
  readonly central: string;
  /** Default `faceedge`. */
  readonly baseTopic?: string;
  /** Default `homeassistant`; null: HA discovery stays on the site. */
  readonly haPrefix?: string | null;
  /** The bridge's account on the central broker (an operator-like account there). */
  readonly username?: string;
  readonly password?: string;
  /** TLS to the central broker: its CA; a client certificate and key for mutual TLS. */
  readonly cafile?: string;
  readonly certfile?: string;
  readonly keyfile?: string;
  /** Seconds between reconnect attempts (start, max backoff). Default [2, 30]. */
  readonly restartTimeoutS?: readonly [number, number];
}

export function mosquittoBridgeConfig(o: BridgeConfigOptions): string {
  if (!/^[A-Za-z0-9_-]+$/.test(o.site)) throw new Error(`site "${o.site}" must be letters, digits, "_" or "-"`);
  // Every board at once: `+` in the device level.
  const b = new FleetTopics(o.baseTopic).device('+');
  const [first, max] = o.restartTimeoutS ?? [2, 30];
  const lines = [
    `# faceedge: site "${o.site}" bridged to the central broker ${o.central} (faceedge fleet bridge-config).`,
    "# Put it in the SITE broker's config (e.g. /etc/mosquitto/conf.d/faceedge-bridge.conf).",
    `connection faceedge-${o.site}`,
    `address ${o.central}`,
    `remote_clientid faceedge-bridge-${o.site}`,
    'bridge_protocol_version mqttv311',
    '# Loop detection between Mosquitto brokers, and retained flags kept across the bridge.',
    'try_private true',
    "# Both ends keep the bridge's session: QoS 1 messages wait through an outage of the link or the centre.",
    'cleansession false',
    'local_cleansession false',
    'start_type automatic',
    `restart_timeout ${first} ${max}`,
    'keepalive_interval 30',
  ];
  if (o.username) lines.push(`remote_username ${o.username}`);
  if (o.password) lines.push(`remote_password ${o.password}`);
  if (o.cafile) lines.push(`bridge_cafile ${o.cafile}`);
  if (o.certfile) lines.push(`bridge_certfile ${o.certfile}`);
  if (o.keyfile) lines.push(`bridge_keyfile ${o.keyfile}`);
  lines.push(
    '',
    '# site -> central',
    `topic ${b.availability} out 1`,
    `topic ${b.bridgeInfo} out 1`,
    `topic ${b.bridgeResponseFilter} out 1`,
    `topic ${b.stats} out 1`,
    `topic ${b.eventsFilter} out 1`,
    `topic ${b.faceFilter} out 1`,
    `topic ${b.captureStatusFilter} out 1`,
    `topic ${b.personFilter} out 1`,
    `topic ${b.gpioStateFilter} out 1`,
    `topic ${b.rulesAction} out 1`,
    `topic ${b.access} out 1`,
    `topic ${b.modelPushStatusFilter} out 1`,
  );
  if (o.haPrefix !== null) lines.push(`topic ${new HomeAssistantTopics(o.haPrefix).discoveryFilter} out 1`);
  lines.push(
    '',
    '# central -> site',
    `topic ${b.bridgeRequestFilter} in 1`,
    `topic ${b.modelPushFilter} in 1`,
    `topic ${b.gpioSetFilter} in 1`,
    '',
    '# The site broker queues for the bridge while the centre is away: size it for the outage you expect',
    '# (events per second of the site × seconds), in the main config:  max_queued_messages 100000',
    '',
  );
  return lines.join('\n');
}
