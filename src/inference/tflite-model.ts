/**
 * One TFLite model + interpreter, with typed tensor details, an accelerator delegate and a
 * non-blocking `run` (Invoke runs on a libuv worker thread through koffi's async calls).
 */
import { readFile } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import { createDelegate, delegateName, fallbackChain, type DelegateSpec, type NativeDelegate } from './delegate.js';
import { dtypeFromCode, typedView, type TensorArray, type TensorInfo } from './tensor-info.js';
import { loadTfliteLibrary, type TfliteLibrary } from './tflite-library.js';

export interface TfliteModelOptions {
  /** Interpreter and XNNPACK threads. Default 1 (predictable latency next to the rest of the daemon). */
  readonly threads?: number;
  /** Accelerator to try first. Default XNNPACK. Falls back to XNNPACK, then plain CPU kernels. */
  readonly delegate?: DelegateSpec;
  /** Injected runtime (tests); default: the library inside tfjs-tflite-node. */
  readonly library?: TfliteLibrary;
}

/** Which delegate actually runs the model and, if it is not the requested one, why. */
export interface DelegateStatus {
  readonly requested: string;
  readonly active: string;
  readonly fallbackReason: string | null;
}

const TFLITE_IDENTIFIER = 'TFL3';

export class TfliteModel {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly delegate: DelegateStatus;
  readonly runtimeVersion: string;

  #lib: TfliteLibrary;
  #modelBytes: Buffer; // must outlive the native model, which points into it
  #model: unknown;
  #interpreter: unknown;
  #nativeDelegate: NativeDelegate;
  #inputTensors: unknown[];
  #outputTensors: unknown[];
  #queue: Promise<unknown> = Promise.resolve();
  /** Async runs queued or invoking: `runSync` must not touch the interpreter while any is. */
  #pending = 0;
  #closed = false;

  private constructor(parts: {
    lib: TfliteLibrary;
    bytes: Buffer;
    model: unknown;
    interpreter: unknown;
    nativeDelegate: NativeDelegate;
    delegate: DelegateStatus;
  }) {
    this.#lib = parts.lib;
    this.#modelBytes = parts.bytes;
    this.#model = parts.model;
    this.#interpreter = parts.interpreter;
    this.#nativeDelegate = parts.nativeDelegate;
    this.delegate = parts.delegate;
    this.runtimeVersion = parts.lib.version;
    const lib = parts.lib;
    this.#inputTensors = Array.from(
      { length: lib.InterpreterGetInputTensorCount(parts.interpreter) as number },
      (_, i) => lib.InterpreterGetInputTensor(parts.interpreter, i),
    );
    this.#outputTensors = Array.from(
      { length: lib.InterpreterGetOutputTensorCount(parts.interpreter) as number },
      (_, i) => lib.InterpreterGetOutputTensor(parts.interpreter, i),
    );
    this.inputs = this.#inputTensors.map((t) => describeTensor(lib, t));
    this.outputs = this.#outputTensors.map((t) => describeTensor(lib, t));
  }

  /** Loads a `.tflite` file. Throws MODEL_NOT_FOUND / MODEL_INVALID with a hint. */
  static async load(path: string, options: TfliteModelOptions = {}): Promise<TfliteModel> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      throw new FaceedgeError('MODEL_NOT_FOUND', `cannot read model ${path}: ${(cause as Error).message}`, { cause });
    }
    return TfliteModel.fromBuffer(bytes, path, options);
  }

  /** Builds a model from flatbuffer bytes (kept alive by the model). `origin` names it in errors. */
  static fromBuffer(bytes: Buffer, origin: string, options: TfliteModelOptions = {}): TfliteModel {
    if (bytes.length < 8 || bytes.toString('latin1', 4, 8) !== TFLITE_IDENTIFIER) {
      throw new FaceedgeError(
        'MODEL_INVALID',
        `${origin} is not a TFLite model (no "${TFLITE_IDENTIFIER}" identifier)`,
        {
          hint: 'pass a .tflite flatbuffer written by faceedge_train.export or TensorFlow',
        },
      );
    }
    const lib = options.library ?? loadTfliteLibrary();
    const threads = options.threads ?? 1;
    const model = lib.ModelCreate(bytes, bytes.length);
    if (!model) {
      throw new FaceedgeError('MODEL_INVALID', `${origin} failed TFLite flatbuffer verification`, {
        hint: 'the file is corrupt or truncated',
      });
    }
    const requested = options.delegate ?? { kind: 'xnnpack' as const };
    const reasons: string[] = [];
    for (const spec of fallbackChain(requested)) {
      const created = createDelegate(lib, spec, threads);
      if (typeof created === 'string') {
        reasons.push(`${delegateName(spec)}: ${created}`);
        continue;
      }
      const interpreter = createInterpreter(lib, model, created, threads);
      if (!interpreter) {
        created.free();
        reasons.push(`${delegateName(spec)}: the delegate could not prepare this model`);
        continue;
      }
      const delegate = {
        requested: delegateName(requested),
        active: delegateName(spec),
        fallbackReason: reasons.length ? reasons.join('; ') : null,
      };
      return new TfliteModel({ lib, bytes, model, interpreter, nativeDelegate: created, delegate });
    }
    lib.ModelDelete(model);
    throw new FaceedgeError(
      'MODEL_INVALID',
      `${origin}: TFLite could not build an interpreter (${reasons.join('; ')})`,
      {
        hint: 'the model uses operators this runtime (TFLite 2.9) does not support, or is malformed',
      },
    );
  }

  /**
   * Runs the model on a worker thread. `inputs[i]` must hold exactly the bytes of input tensor i.
   * Calls are serialized (an interpreter is not re-entrant), so an input is read only when its turn
   * comes: the caller hands its buffers over and must not write to them until the promise settles
   * (several cameras share one model, so a buffer reused across calls would feed one camera's frame
   * to another's run). Outputs are fresh copies.
   */
  run(inputs: readonly ArrayBufferView[]): Promise<TensorArray[]> {
    this.#pending++;
    const task = this.#queue
      .then(async () => {
        this.#copyInputs(inputs);
        const status = await new Promise<number>((resolve, reject) => {
          this.#lib.InterpreterInvoke.async(this.#interpreter, (err: Error | null, res: number) =>
            err ? reject(err) : resolve(res),
          );
        });
        if (status !== 0)
          throw new FaceedgeError('INFERENCE_FAILED', `TfLiteInterpreterInvoke returned status ${status}`);
        return this.#copyOutputs();
      })
      .finally(() => this.#pending--);
    this.#queue = task.catch(() => undefined);
    return task;
  }

  /**
   * Same as `run` on the calling thread: for benchmarks and batch tools, not the daemon's event loop.
   * Throws while an async `run` of this model is queued or invoking (the interpreter is not re-entrant).
   */
  runSync(inputs: readonly ArrayBufferView[]): TensorArray[] {
    if (this.#pending > 0) {
      throw new FaceedgeError(
        'INFERENCE_FAILED',
        `runSync while ${this.#pending} asynchronous run(s) of this model are pending`,
        {
          hint: 'use one model either from run() or from runSync(), not both at once',
        },
      );
    }
    this.#copyInputs(inputs);
    const status = this.#lib.InterpreterInvoke(this.#interpreter) as number;
    if (status !== 0) throw new FaceedgeError('INFERENCE_FAILED', `TfLiteInterpreterInvoke returned status ${status}`);
    return this.#copyOutputs();
  }

  /** Frees the interpreter, delegate and model. Idempotent; waits for a run in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    this.#lib.InterpreterDelete(this.#interpreter);
    this.#nativeDelegate.free();
    this.#lib.ModelDelete(this.#model);
    this.#modelBytes = Buffer.alloc(0);
  }

  #copyInputs(inputs: readonly ArrayBufferView[]): void {
    if (this.#closed) throw new FaceedgeError('INFERENCE_FAILED', 'model is closed');
    if (inputs.length !== this.inputs.length) {
      throw new FaceedgeError('INFERENCE_FAILED', `model has ${this.inputs.length} inputs, got ${inputs.length}`);
    }
    inputs.forEach((data, i) => {
      const info = this.inputs[i];
      if (data.byteLength !== info.byteSize) {
        throw new FaceedgeError(
          'INFERENCE_FAILED',
          `input ${info.name}: expected ${info.byteSize} bytes (${info.dtype} ${info.shape.join('x')}), got ${data.byteLength}`,
        );
      }
      const status = this.#lib.TensorCopyFromBuffer(this.#inputTensors[i], data, data.byteLength) as number;
      if (status !== 0)
        throw new FaceedgeError('INFERENCE_FAILED', `copying input ${info.name} failed (status ${status})`);
    });
  }

  #copyOutputs(): TensorArray[] {
    return this.outputs.map((info, i) => {
      const bytes = Buffer.alloc(info.byteSize);
      this.#lib.TensorCopyToBuffer(this.#outputTensors[i], bytes, bytes.length);
      return typedView(info.dtype, bytes);
    });
  }
}

function createInterpreter(lib: TfliteLibrary, model: unknown, delegate: NativeDelegate, threads: number): unknown {
  const options = lib.InterpreterOptionsCreate();
  try {
    lib.InterpreterOptionsSetNumThreads(options, threads);
    if (delegate.handle) lib.InterpreterOptionsAddDelegate(options, delegate.handle);
    const interpreter = lib.InterpreterCreate(model, options);
    if (!interpreter) return null;
    if ((lib.InterpreterAllocateTensors(interpreter) as number) !== 0) {
      lib.InterpreterDelete(interpreter);
      return null;
    }
    return interpreter;
  } finally {
    lib.InterpreterOptionsDelete(options);
  }
}

function describeTensor(lib: TfliteLibrary, tensor: unknown): TensorInfo {
  const code = lib.TensorType(tensor) as number;
  const dtype = dtypeFromCode(code);
  if (!dtype) throw new FaceedgeError('MODEL_INVALID', `unsupported tensor type code ${code}`);
  const shape = Array.from(
    { length: lib.TensorNumDims(tensor) as number },
    (_, d) => lib.TensorDim(tensor, d) as number,
  );
  const q = lib.TensorQuantizationParams(tensor) as { scale: number; zero_point: number };
  return {
    name: lib.TensorName(tensor) as string,
    dtype,
    shape,
    byteSize: Number(lib.TensorByteSize(tensor)),
    quantization: q.scale !== 0 ? { scale: q.scale, zeroPoint: q.zero_point } : null,
  };
}
