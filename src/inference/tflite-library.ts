/**
 * The TensorFlow Lite C API (TFLite 2.9) as shipped prebuilt inside the npm package `tfjs-tflite-node`,
 * called through koffi. Only the functions faceedge needs are declared.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import koffi, { type LibraryHandle, type KoffiFunc } from 'koffi';
// Loosely typed on purpose: the C signatures are declared as strings below.
type KoffiFunction = KoffiFunc<(...args: any[]) => any>;
import { FaceedgeError } from '../errors.js';

/** TfLiteType enum values (c_api_types.h). */
export const TfLiteType = {
  float32: 1,
  int32: 2,
  uint8: 3,
  int64: 4,
  int16: 7,
  int8: 9,
} as const;

/** XNNPACK delegate flags (xnnpack_delegate.h): run signed / unsigned 8-bit quantized operators. */
export const XNNPACK_FLAG_QS8 = 0x1;
export const XNNPACK_FLAG_QU8 = 0x2;

/** Where the external-delegate loader lives next to the runtime inside tfjs-tflite-node. */
export interface TfliteLibraryPaths {
  runtime: string;
  externalDelegate: string;
}

export interface TfliteLibrary {
  readonly paths: TfliteLibraryPaths;
  readonly version: string;
  // Each member is a koffi function; `.async(...args, cb)` runs it on a worker thread.
  readonly ModelCreateFromFile: KoffiFunction;
  readonly ModelCreate: KoffiFunction;
  readonly ModelDelete: KoffiFunction;
  readonly InterpreterOptionsCreate: KoffiFunction;
  readonly InterpreterOptionsDelete: KoffiFunction;
  readonly InterpreterOptionsSetNumThreads: KoffiFunction;
  readonly InterpreterOptionsAddDelegate: KoffiFunction;
  readonly InterpreterCreate: KoffiFunction;
  readonly InterpreterDelete: KoffiFunction;
  readonly InterpreterAllocateTensors: KoffiFunction;
  readonly InterpreterInvoke: KoffiFunction;
  readonly InterpreterGetInputTensorCount: KoffiFunction;
  readonly InterpreterGetOutputTensorCount: KoffiFunction;
  readonly InterpreterGetInputTensor: KoffiFunction;
  readonly InterpreterGetOutputTensor: KoffiFunction;
  readonly TensorType: KoffiFunction;
  readonly TensorNumDims: KoffiFunction;
  readonly TensorDim: KoffiFunction;
  readonly TensorByteSize: KoffiFunction;
  readonly TensorName: KoffiFunction;
  readonly TensorQuantizationParams: KoffiFunction;
  readonly TensorCopyFromBuffer: KoffiFunction;
  readonly TensorCopyToBuffer: KoffiFunction;
  readonly XNNPackDelegateCreate: KoffiFunction;
  readonly XNNPackDelegateDelete: KoffiFunction;
  readonly ExternalDelegateCreate: KoffiFunction;
  readonly ExternalDelegateDelete: KoffiFunction;
}

const ARCH_DIRS: Record<string, string> = { x64: 'linux_amd64', arm64: 'linux_arm64' };

/** Paths of the prebuilt libraries for this platform inside node_modules/tfjs-tflite-node. */
export function findTfliteLibraryPaths(): TfliteLibraryPaths {
  const archDir = ARCH_DIRS[process.arch];
  if (process.platform !== 'linux' || !archDir) {
    throw new FaceedgeError(
      'RUNTIME_UNAVAILABLE',
      `no prebuilt TFLite runtime for ${process.platform}/${process.arch}`,
      {
        hint: 'faceedge runs on Linux x64 and arm64 (Raspberry Pi OS 64-bit, Ubuntu, JetPack)',
      },
    );
  }
  const require = createRequire(import.meta.url);
  let packageDir: string;
  try {
    packageDir = dirname(require.resolve('tfjs-tflite-node/package.json'));
  } catch (cause) {
    throw new FaceedgeError('RUNTIME_UNAVAILABLE', 'npm package tfjs-tflite-node is not installed', {
      hint: 'run npm install',
      cause,
    });
  }
  const dir = join(packageDir, 'cc_deps', archDir);
  const paths = {
    runtime: join(dir, 'libtensorflowlite_c.so'),
    externalDelegate: join(dir, 'libexternal_delegate_obj.so'),
  };
  if (!existsSync(paths.runtime)) {
    throw new FaceedgeError('RUNTIME_UNAVAILABLE', `TFLite runtime library missing: ${paths.runtime}`, {
      hint: 'reinstall tfjs-tflite-node',
    });
  }
  return paths;
}

// dlopen() is process-wide anyway; keeping the declared functions per path avoids re-declaring them
// for every interpreter (koffi declarations are not free).
const loaded = new Map<string, TfliteLibrary>();

/** Loads (once per process and path) the TFLite C library and declares its functions. */
export function loadTfliteLibrary(paths: TfliteLibraryPaths = findTfliteLibraryPaths()): TfliteLibrary {
  const cached = loaded.get(paths.runtime);
  if (cached) return cached;
  let lib: LibraryHandle;
  let ext: LibraryHandle;
  try {
    lib = koffi.load(paths.runtime);
    ext = koffi.load(paths.externalDelegate);
  } catch (cause) {
    throw new FaceedgeError('RUNTIME_UNAVAILABLE', `cannot load the TFLite runtime: ${(cause as Error).message}`, {
      cause,
    });
  }
  const quantParams = koffi.struct('TfLiteQuantizationParams', { scale: 'float', zero_point: 'int32_t' });
  // 256 key/value slots as in external_delegate.h (kMaxOptions), then the `insert` function pointer.
  // The delegate copies every string into its own storage during Create, so koffi's temporary C strings
  // for one call are enough.
  const externalOptions = koffi.struct('TfLiteExternalDelegateOptions', {
    lib_path: 'const char *',
    count: 'int',
    keys: koffi.array('const char *', 256),
    values: koffi.array('const char *', 256),
    insert: 'void *',
  });
  const fn = (l: LibraryHandle, signature: string) => l.func(signature);
  const library: TfliteLibrary = {
    paths,
    version: fn(lib, 'const char *TfLiteVersion()')() as string,
    ModelCreateFromFile: fn(lib, 'void *TfLiteModelCreateFromFile(const char *path)'),
    ModelCreate: fn(lib, 'void *TfLiteModelCreate(const void *data, size_t size)'),
    ModelDelete: fn(lib, 'void TfLiteModelDelete(void *model)'),
    InterpreterOptionsCreate: fn(lib, 'void *TfLiteInterpreterOptionsCreate()'),
    InterpreterOptionsDelete: fn(lib, 'void TfLiteInterpreterOptionsDelete(void *options)'),
    InterpreterOptionsSetNumThreads: fn(lib, 'void TfLiteInterpreterOptionsSetNumThreads(void *options, int32_t n)'),
    InterpreterOptionsAddDelegate: fn(lib, 'void TfLiteInterpreterOptionsAddDelegate(void *options, void *delegate)'),
    InterpreterCreate: fn(lib, 'void *TfLiteInterpreterCreate(void *model, void *options)'),
    InterpreterDelete: fn(lib, 'void TfLiteInterpreterDelete(void *interpreter)'),
    InterpreterAllocateTensors: fn(lib, 'int TfLiteInterpreterAllocateTensors(void *interpreter)'),
    InterpreterInvoke: fn(lib, 'int TfLiteInterpreterInvoke(void *interpreter)'),
    InterpreterGetInputTensorCount: fn(lib, 'int32_t TfLiteInterpreterGetInputTensorCount(void *interpreter)'),
    InterpreterGetOutputTensorCount: fn(lib, 'int32_t TfLiteInterpreterGetOutputTensorCount(void *interpreter)'),
    InterpreterGetInputTensor: fn(lib, 'void *TfLiteInterpreterGetInputTensor(void *interpreter, int32_t index)'),
    InterpreterGetOutputTensor: fn(lib, 'void *TfLiteInterpreterGetOutputTensor(void *interpreter, int32_t index)'),
    TensorType: fn(lib, 'int TfLiteTensorType(void *tensor)'),
    TensorNumDims: fn(lib, 'int32_t TfLiteTensorNumDims(void *tensor)'),
    TensorDim: fn(lib, 'int32_t TfLiteTensorDim(void *tensor, int32_t index)'),
    TensorByteSize: fn(lib, 'size_t TfLiteTensorByteSize(void *tensor)'),
    TensorName: fn(lib, 'const char *TfLiteTensorName(void *tensor)'),
    TensorQuantizationParams: lib.func('TfLiteTensorQuantizationParams', quantParams, ['void *']),
    TensorCopyFromBuffer: fn(lib, 'int TfLiteTensorCopyFromBuffer(void *tensor, const void *data, size_t size)'),
    TensorCopyToBuffer: fn(lib, 'int TfLiteTensorCopyToBuffer(void *tensor, void *data, size_t size)'),
    XNNPackDelegateCreate: fn(lib, 'void *TfLiteXNNPackDelegateCreate(const void *options)'),
    XNNPackDelegateDelete: fn(lib, 'void TfLiteXNNPackDelegateDelete(void *delegate)'),
    ExternalDelegateCreate: ext.func('TfLiteExternalDelegateCreate', 'void *', [koffi.pointer(externalOptions)]),
    ExternalDelegateDelete: ext.func('void TfLiteExternalDelegateDelete(void *delegate)'),
  };
  loaded.set(paths.runtime, library);
  return library;
}
