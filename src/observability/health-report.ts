/**
 * Readiness from plain facts the daemon already knows. Shared by `/healthz` and the MQTT
 * `health_check` command so both always agree.
 */

/** What the daemon reports about itself; gathered fresh on each request. */
export interface HealthFacts {
  /** True once every component started and until stop begins. */
  readonly started: boolean;
  readonly broker_connected: boolean;
  /**
   * Why the broker is not connected (`kind`, the broker's `message`, a `hint` naming the config keys);
   * null while connected. A refused login makes the daemon not ready; an unreachable broker does not.
   */
  readonly broker_problem?: { readonly kind: string; readonly message: string; readonly hint?: string } | null;
  /** Per camera: ms since its last frame, null before the first one. Paused cameras are not listed. */
  readonly last_frame_age_ms: Readonly<Record<string, number | null>>;
  /** Cameras a rule has paused (input-gated): not expected to deliver frames. Absent = none. */
  readonly paused_cameras?: readonly string[];
  /** The loaded classifier, null while none is loaded. */
  readonly model: { readonly id: string; readonly sha256: string; readonly delegate: string } | null;
  /**
   * Every model per face by name (`classifiers:`), the first one first: what `faceedge fleet push --name` gates
   * and rolls back on. Absent from boards before model names.
   */
  readonly models?: readonly { readonly name: string; readonly id: string; readonly sha256: string }[];
}

export interface HealthReport extends HealthFacts {
  readonly ready: boolean;
  /** Why `ready` is false (empty when ready). */
  readonly reasons: readonly string[];
}

export interface HealthPolicy {
  /** A camera whose last frame is older than this (ms) makes the daemon not ready. Default 10000. */
  readonly maxFrameAgeMs?: number;
  /**
   * Whether a lost broker makes the daemon not ready. Default false: events wait in the on-disk
   * outbox, so a broker outage does not stop the daemon doing its job (it is still reported).
   */
  readonly requireBroker?: boolean;
}

/** Ready = started, a model loaded, every camera delivering frames (and the broker, if required). */
export function evaluateHealth(facts: HealthFacts, policy: HealthPolicy = {}): HealthReport {
  const maxAge = policy.maxFrameAgeMs ?? 10_000;
  const reasons: string[] = [];
  if (!facts.started) reasons.push('not started');
  if (facts.model === null) reasons.push('no model loaded');
  const problem = facts.broker_problem;
  // A refused login does not heal by waiting, unlike an outage: events would pile up in the outbox
  // until someone fixes the credentials, so it must show on /healthz.
  if (!facts.broker_connected && problem && problem.kind !== 'unreachable') {
    reasons.push(`MQTT broker refused the connection: ${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`);
  } else if (policy.requireBroker && !facts.broker_connected) reasons.push('MQTT broker not connected');
  for (const [camera, age] of Object.entries(facts.last_frame_age_ms)) {
    if (age === null) reasons.push(`camera ${camera}: no frame yet`);
    else if (age > maxAge) reasons.push(`camera ${camera}: last frame ${Math.round(age)} ms ago`);
  }
  return { ...facts, ready: reasons.length === 0, reasons };
}
