/**
 * The Mosquitto ACL of a shared fleet broker. Boards log in with their device id as user name (a
 * password, or a client certificate whose CN is the id with `use_identity_as_username true`), so one
 * set of `pattern` lines (`%u` = the user name) covers every board, however many there are:
 *
 * - a board publishes only under `<base>/<its id>/` (see {@link boardWritable}) and its own Home Assistant
 *   discovery topic;
 * - it reads only its own requests, model pushes and GPIO commands (and HA's birth message);
 * - the operator account reads and writes everything under the base topic (requests, pushes, status);
 * - the gallery's requests (`bridge/request/faces/#`: enrol, remove) are the operator's alone: a board
 *   account is denied them even on its own prefix, so a compromised board cannot enrol its owner's face.
 */
import { FleetTopics, HomeAssistantTopics, MqttTopics } from '../mqtt/mqtt-topics.js';

/** The bridge commands that change the gallery (src/daemon/parts/enrolment-part.ts), as a topic filter. */
export const GALLERY_REQUESTS = 'faces/#';

export interface AclOptions {
  /** Default `faceedge`. */
  readonly baseTopic?: string;
  /** Home Assistant discovery prefix. Default `homeassistant`. */
  readonly haPrefix?: string;
  /** User names of operator accounts. Default `['operator']`. */
  readonly operators?: readonly string[];
}

/**
 * What a board may publish: its subtree one to three levels down (availability, stats, `<cam>/events`,
 * `<cam>/status/capture`, `gpio/<out>/state`…), and below `bridge/response/` and `model/push/` at any depth.
 * Not `bridge/request/faces/<cmd>` (four levels): {@link GALLERY_REQUESTS} come from an operator only.
 */
export function boardWritable(board: MqttTopics): string[] {
  return [
    `${board.root}/+`,
    `${board.root}/+/+`,
    `${board.root}/+/+/+`,
    board.bridgeResponseFilter,
    board.modelPushSubtree,
  ];
}

/** The ACL file text (Mosquitto `acl_file`). */
export function mosquittoAcl(o: AclOptions = {}): string {
  const fleet = new FleetTopics(o.baseTopic);
  const ha = new HomeAssistantTopics(o.haPrefix);
  // Built with the contract's own topic builders, with Mosquitto's %u standing for the device id.
  const board = new MqttTopics(fleet.baseTopic, '%u');
  const lines = [
    '# faceedge fleet ACL for Mosquitto (acl_file); written by `faceedge fleet credentials`.',
    "# A board's MQTT user name is its device id (or the CN of its client certificate, with",
    '# use_identity_as_username true). Anything not allowed here is denied.',
    '',
    '# Every board (%u = its user name = its device id) writes its own subtree, except the gallery requests',
    "# (bridge/request/faces/…: enrol, remove a person), which are an operator's alone. Mosquitto's deny would",
    '# also stop the board reading them, so its subtree is granted by depth instead: every topic one to three',
    '# levels down, and its answers and model-push statuses at any depth; a faces request is four levels down.',
    ...boardWritable(board).map((filter) => `pattern write ${filter}`),
    `pattern read ${board.bridgeRequestFilter}`,
    `pattern read ${board.modelPushSubtree}`,
    `pattern read ${board.gpioSetFilter}`,
    `pattern write ${ha.discovery('%u')}`,
    `pattern read ${ha.status}`,
    '',
  ];
  for (const op of o.operators ?? ['operator']) {
    lines.push(
      `# Operator: fleet status, requests, model pushes, event consumers.`,
      `user ${op}`,
      `topic readwrite ${fleet.subtree}`,
      `topic read ${ha.subtree}`,
      '',
    );
  }
  return lines.join('\n');
}
