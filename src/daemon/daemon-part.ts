/**
 * What a part of the daemon is (after Zigbee2MQTT's extensions): one feature of the board — the MQTT
 * events, the GPIO rules, Home Assistant, model updates, the HTTP side, the cameras, the stats — as one
 * object that the daemon builds from its slice of the config, starts in order and stops in reverse.
 *
 * A part:
 * - is built without side effects, except subscribing to the bus: it takes resources (sockets, lines,
 *   timers, files) in `start` and gives them back in `stop`;
 * - answers the bridge commands it declares in `commands`, which the daemon registers before MQTT connects
 *   (a command that needs the part started says so while it is not);
 * - hears the bus events it subscribed to and emits its own; it never reaches into another part: what
 *   several parts share is a service (src/daemon/daemon-services.ts).
 *
 * docs/architecture.md shows how to add one.
 */
import type { Logger } from 'pino';
import type { FaceedgeConfig } from '../config/config-schema.js';
import type { BridgeHandler } from '../mqtt/bridge-dispatcher.js';
import type { DaemonBus } from './daemon-bus.js';
import type { DaemonServices } from './daemon-services.js';

export interface DaemonPart {
  /** `bridge/request/<command>` handlers, by command (`model/reload`, `options`…). Default none. */
  readonly commands?: Readonly<Record<string, BridgeHandler>>;
  /** Takes the part's resources; a typed error here stops the daemon's start (what started is stopped). */
  start?(): void | Promise<void>;
  /** Gives them back; called once, in reverse start order, also after a failed start of a later part. */
  stop?(): void | Promise<void>;
  /** What the part adds to the daemon's "faceedge running" log line once started (e.g. a bound port). */
  summary?(): Readonly<Record<string, unknown>>;
}

/** What every part is built with, besides its config slice. */
export interface PartContext {
  /** The daemon's logger: a part names each of its components with `componentLogger(log, '<component>')`. */
  readonly log: Logger;
  readonly bus: DaemonBus;
  readonly services: DaemonServices;
}

/** How a part is made from the config; `definePart` turns it into an entry of the daemon's part list. */
export interface PartDefinition<Slice> {
  /** Names the part in the stop order (and in the log when it fails to stop). */
  readonly name: string;
  /** The config the part reads; null leaves the part out (a feature switched off). */
  slice(config: FaceedgeConfig): Slice | null;
  create(slice: Slice, context: PartContext): DaemonPart;
}

/** An entry of the daemon's part list. */
export interface PartFactory {
  readonly name: string;
  /** The part, or null when the config leaves it out. */
  build(config: FaceedgeConfig, context: PartContext): DaemonPart | null;
}

export function definePart<Slice>(definition: PartDefinition<Slice>): PartFactory {
  return {
    name: definition.name,
    build: (config, context) => {
      const slice = definition.slice(config);
      return slice === null ? null : definition.create(slice, context);
    },
  };
}
