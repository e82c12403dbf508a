/**
 * The board's own bridge commands, as a part with nothing to start: `health_check` (the readiness
 * `/healthz` reports, src/observability/health-report.ts) and `options` (the run-time thresholds,
 * src/config/runtime-options.ts, applied to the detector and every camera from the next frame on).
 */
import { parseRuntimeOptionsPatch } from '../../config/runtime-options.js';
import { evaluateHealth } from '../../observability/health-report.js';
import { definePart } from '../daemon-part.js';

export const boardCommandsPart = definePart({
  name: 'board',
  slice: () => ({}),
  create: (_slice, { services }) => ({
    commands: {
      health_check: () => evaluateHealth(services.health()),
      options: (params) => services.tuning.apply(parseRuntimeOptionsPatch(params)),
    },
  }),
});
