/**
 * The cameras, as a part: started after everything they feed is up (MQTT connecting, GPIO outputs safe and
 * input-gated cameras paused, the HTTP side listening), stopped first, so that the `end` of every open
 * track still reaches MQTT, the rules and the live view. The cameras themselves are a service
 * (src/daemon/camera-set.ts), since the GPIO rules, the live view and the stats read them.
 */
import { definePart } from '../daemon-part.js';

export const camerasPart = definePart({
  name: 'cameras',
  slice: () => ({}),
  create: (_slice, { services }) => ({
    start: () => services.cameras.start(),
    stop: () => services.cameras.stop(),
  }),
});
