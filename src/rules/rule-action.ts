/**
 * What the rules engine asks for. Plain data: the composition root carries each action out (GPIO,
 * camera runner), logs it and publishes it, so every action says which rule took it and why.
 */

interface ActionBase {
  /** Id of the rule that took the action. */
  readonly rule: string;
  /** Human-readable cause, e.g. `door: track door-17 female 0.93, 4 frames`. */
  readonly reason: string;
  /** The engine time (ms, as passed in) at which the action was decided. */
  readonly at: number;
}

/** Turn an output on for `ms`, then off. */
export interface PulseAction extends ActionBase {
  readonly kind: 'pulse';
  readonly output: string;
  readonly ms: number;
}

/** Set an output on or off. */
export interface SetAction extends ActionBase {
  readonly kind: 'set';
  readonly output: string;
  readonly on: boolean;
}

/** Start or stop running a camera (input-gated cameras). */
export interface CameraAction extends ActionBase {
  readonly kind: 'camera';
  readonly camera: string;
  readonly run: boolean;
}

export type RuleAction = PulseAction | SetAction | CameraAction;

/** One log line / MQTT payload summary of an action. */
export function describeAction(action: RuleAction): string {
  const what =
    action.kind === 'pulse'
      ? `pulse ${action.output} for ${action.ms} ms`
      : action.kind === 'set'
        ? `set ${action.output} ${action.on ? 'on' : 'off'}`
        : `${action.run ? 'run' : 'pause'} camera ${action.camera}`;
  return `rule ${action.rule}: ${what} (${action.reason})`;
}
