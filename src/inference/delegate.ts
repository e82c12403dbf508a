/**
 * Accelerator delegates for the TFLite interpreter. XNNPACK (built into the runtime) is the default;
 * any external delegate `.so` (Coral EdgeTPU `libedgetpu.so.1`, a GPU delegate…) goes through
 * TfLiteExternalDelegateCreate. Creation failures are returned as reasons, never thrown: the model
 * loader falls back to the next delegate in line and reports why.
 */
import koffi, { type LibraryHandle } from 'koffi';
import type { TfliteLibrary } from './tflite-library.js';
import { XNNPACK_FLAG_QS8, XNNPACK_FLAG_QU8 } from './tflite-library.js';

export type DelegateSpec =
  | { readonly kind: 'xnnpack' }
  /** Plain TFLite reference/optimized kernels, no delegate. */
  | { readonly kind: 'cpu' }
  | {
      readonly kind: 'external';
      /** Path or soname of the delegate library, e.g. `libedgetpu.so.1`. */
      readonly library: string;
      /** Delegate-specific key/value options (e.g. `{ device: 'usb' }` for EdgeTPU). */
      readonly options?: Readonly<Record<string, string>>;
    };

/** A created native delegate and how to free it. `handle` is null for the `cpu` kind. */
export interface NativeDelegate {
  readonly spec: DelegateSpec;
  readonly handle: unknown | null;
  free(): void;
}

/** Human-readable name used in logs, `bridge/info` and the bench output. */
export function delegateName(spec: DelegateSpec): string {
  return spec.kind === 'external' ? `external:${spec.library}` : spec.kind;
}

/**
 * Creates the native delegate for `spec`; returns a reason string when it cannot be created.
 * @param threads XNNPACK thread-pool size (1 = run on the calling thread).
 */
export function createDelegate(lib: TfliteLibrary, spec: DelegateSpec, threads: number): NativeDelegate | string {
  switch (spec.kind) {
    case 'cpu':
      return { spec, handle: null, free: () => {} };
    case 'xnnpack': {
      // TfLiteXNNPackDelegateOptions is { int32 num_threads; uint32 flags; <pointers added by later
      // versions> }. A zeroed, generously sized buffer leaves every field we do not set at its
      // "disabled/null" value whatever the runtime's exact layout.
      const options = Buffer.alloc(64);
      options.writeInt32LE(threads, 0);
      options.writeUInt32LE(XNNPACK_FLAG_QS8 | XNNPACK_FLAG_QU8, 4);
      const handle = lib.XNNPackDelegateCreate(options);
      if (!handle) return 'TfLiteXNNPackDelegateCreate returned null';
      let freed = false;
      return {
        spec,
        handle,
        free: () => {
          if (!freed) {
            freed = true;
            lib.XNNPackDelegateDelete(handle);
          }
        },
      };
    }
    case 'external': {
      const missing = probeExternalDelegate(spec.library);
      if (missing) return missing;
      const entries = Object.entries(spec.options ?? {});
      if (entries.length > 256) return 'more than 256 external delegate options';
      const keys: (string | null)[] = new Array(256).fill(null);
      const values: (string | null)[] = new Array(256).fill(null);
      entries.forEach(([k, v], i) => {
        keys[i] = k;
        values[i] = v;
      });
      const handle = lib.ExternalDelegateCreate({
        lib_path: spec.library,
        count: entries.length,
        keys,
        values,
        insert: null,
      });
      if (!handle) return `cannot load external delegate ${spec.library} (missing library or no device attached)`;
      let freed = false;
      return {
        spec,
        handle,
        free: () => {
          if (!freed) {
            freed = true;
            lib.ExternalDelegateDelete(handle);
          }
        },
      };
    }
  }
}

/** The order in which delegates are tried: the requested one, then XNNPACK, then plain CPU kernels. */
export function fallbackChain(requested: DelegateSpec): DelegateSpec[] {
  const chain: DelegateSpec[] = [requested];
  if (requested.kind === 'external') chain.push({ kind: 'xnnpack' });
  if (requested.kind !== 'cpu') chain.push({ kind: 'cpu' });
  return chain;
}

/**
 * TFLite 2.9's external-delegate wrapper does not check that the plugin loaded: it hands back a
 * delegate that crashes on first use. So we dlopen the plugin ourselves first and check that it
 * exports the plugin entry points. Returns a reason, or null when the plugin looks usable.
 */
function probeExternalDelegate(library: string): string | null {
  let plugin: LibraryHandle;
  try {
    plugin = koffi.load(library);
  } catch (err) {
    return `cannot load ${library}: ${(err as Error).message}`;
  }
  try {
    plugin.func('void *tflite_plugin_create_delegate(void *keys, void *values, size_t count, void *report_error)');
    plugin.func('void tflite_plugin_destroy_delegate(void *delegate)');
    return null;
  } catch {
    return `${library} is not a TFLite delegate plugin (no tflite_plugin_create_delegate / tflite_plugin_destroy_delegate)`;
  }
}
