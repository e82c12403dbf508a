/**
 * Gathers the board panel's facts from the daemon's running components (read only, on each tick of
 * an open live-view page).
 */
import { redactUrl } from '../observability/redact-url.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import { readCpuTemperatureC } from '../observability/cpu-temperature.js';
import type { BoardFacts, GpioLineState } from './board-state.js';

export interface BoardFactSources {
  readonly version: string;
  readonly device: string;
  /** The classifier serving now (undefined before it is loaded). */
  readonly classifier: () => FaceClassifier | undefined;
  readonly detector: () => { readonly model: string; readonly delegate: string };
  readonly mqtt: () => { readonly connected: boolean; readonly queueDepth: number } | null;
  readonly brokerUrl: () => string;
  readonly gpio: () => { outputs: readonly GpioLineState[]; inputs: readonly GpioLineState[] } | null;
  /** Default: the kernel's thermal zones. */
  readonly cpuTemperature?: () => number | null;
}

/** A function returning the board's facts now, from `sources`. */
export function boardFacts(sources: BoardFactSources): () => BoardFacts {
  return () => {
    const classifier = sources.classifier();
    const threshold = (classifier?.manifest as { threshold?: unknown } | undefined)?.threshold;
    const mqtt = sources.mqtt();
    return {
      version: sources.version,
      device: sources.device,
      model: classifier
        ? {
            id: classifier.id,
            sha256: classifier.sha256,
            threshold: typeof threshold === 'number' ? threshold : null,
            labels: classifier.labels,
          }
        : null,
      delegate: {
        active: classifier?.delegate.active ?? 'none',
        fallback_reason: classifier?.delegate.fallbackReason ?? null,
      },
      detector: sources.detector(),
      mqtt: {
        connected: mqtt?.connected ?? false,
        outbox_depth: mqtt?.queueDepth ?? 0,
        broker: redactUrl(sources.brokerUrl()),
      },
      gpio: sources.gpio() ?? { outputs: [], inputs: [] },
      cpu_temperature_c: (sources.cpuTemperature ?? readCpuTemperatureC)(),
    };
  };
}
