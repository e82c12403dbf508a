/**
 * A small fleet of real daemons for the fleet tests and `npm run fleet-sim`: each board is
 * `faceedge run` in its own process with its own device id, tags and state dir, on one broker,
 * trusting one model-signing key, playing a GIF clip at a low frame rate.
 *
 *   const fleet = new TestFleet(work, broker.url);
 *   await fleet.start([{ id: 'door-1', tags: ['lobby'] }, …]);  …  await fleet.dispose();
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess, daemonConfig } from './daemon-process.js';
import { copyModelPackage, readManifest, signPackage, writeManifest } from './model-package-fixture.js';
import { REPO_ROOT } from './run-cli.js';

export const FLEET_CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');

export interface BoardSpec {
  readonly id: string;
  readonly tags?: readonly string[];
  /** Trust this public key instead of the fleet's (a board provisioned with the wrong key). */
  readonly publicKeyPem?: string;
  /** Its `classifier.model` (default the shipped int8 model). */
  readonly classifier?: string;
  /** Several models per face (`classifiers:`) instead of `classifier.model`. */
  readonly classifiers?: readonly {
    readonly name: string;
    readonly model: string;
    readonly interval_ms?: number;
    /** Its head on the face embedding (a head slot). */
    readonly head?: string;
  }[];
  /** Merged into its `mqtt` section (username/password, tls). */
  readonly mqtt?: Record<string, unknown>;
}

export class TestFleet {
  readonly signing = generateKeyPairSync('ed25519');
  readonly publicKeyPem: string;
  readonly boards = new Map<string, DaemonProcess>();
  #n = 0;

  /**
   * @param work temp folder for configs, state and packages.
   * @param fps frames per second each board plays its clip at. Default 4.
   * @param built run the compiled release (`npm run build`) instead of the sources through tsx (fleet-sim).
   */
  constructor(
    readonly work: string,
    readonly brokerUrl: string,
    readonly source: string,
    readonly fps = 4,
    readonly built = false,
  ) {
    mkdirSync(work, { recursive: true });
    this.publicKeyPem = join(work, 'model-signing.pub.pem');
    writeFileSync(this.publicKeyPem, this.signing.publicKey.export({ type: 'spki', format: 'pem' }));
  }

  /** The shipped float32 twin (another sha256, same labels), for a board that must start on another model. */
  get shippedFloatModel(): string {
    return join(this.source, readManifest(this.source).files.float32.path);
  }

  /**
   * A signed package of the shipped int8 model alone under a new id (its served file is the shipped
   * one's); `key` signs it.
   */
  int8Package(id: string, key: KeyObject = this.signing.privateKey): { dir: string; sha256: string } {
    const dir = copyModelPackage(this.source, join(this.work, 'packages', `${this.#n++}-${id}`), id);
    signPackage(dir, key);
    return { dir, sha256: readManifest(dir).files.int8.sha256 };
  }

  /** The shipped int8 model every board serves as `classifier.model`. */
  get shippedModel(): string {
    return join(this.source, readManifest(this.source).files.int8.path);
  }

  /** Starts the boards (all at once) and waits until each is running. */
  async start(specs: readonly BoardSpec[], timeoutMs = 120_000): Promise<void> {
    const started = specs.map((spec) => {
      const dir = join(this.work, 'boards', spec.id);
      mkdirSync(dir, { recursive: true });
      const base = daemonConfig({
        brokerUrl: this.brokerUrl,
        stateDir: join(dir, 'state'),
        cameras: [{ name: 'cam', source: { type: 'gif', path: FLEET_CLIP, loop: true, fps: this.fps } }],
        extra: {
          tracker: { update_interval_ms: 250 },
          models: { public_key: spec.publicKeyPem ?? this.publicKeyPem },
          mqtt: { stats_interval_s: 1, ...spec.mqtt },
          log: { level: 'info' },
          ...(spec.classifiers ? { classifiers: spec.classifiers } : {}),
        },
      });
      const daemon = DaemonProcess.start(
        { ...base, device: { id: spec.id, tags: [...(spec.tags ?? [])] } },
        // With a classifiers: list, no FACEEDGE_CLASSIFIER__MODEL (it would be a second classifier section).
        { dir, classifier: spec.classifiers ? undefined : (spec.classifier ?? this.shippedModel), built: this.built },
      );
      this.boards.set(spec.id, daemon);
      return daemon;
    });
    await Promise.all(started.map((d) => d.waitRunning(timeoutMs)));
  }

  board(id: string): DaemonProcess {
    const d = this.boards.get(id);
    if (!d) throw new Error(`no board ${id}`);
    return d;
  }

  /**
   * A signed package whose served file differs from the shipped one (its float32 twin alone), under
   * a new id; `key` signs it (default the fleet's key). Returns the folder and the served file's sha256.
   */
  floatPackage(id: string, key: KeyObject = this.signing.privateKey): { dir: string; sha256: string } {
    const dir = copyModelPackage(this.source, join(this.work, 'packages', `${this.#n++}-${id}`), id);
    const m = readManifest(dir);
    unlinkSync(join(dir, m.files.int8.path));
    delete (m.files as Record<string, unknown>).int8;
    writeManifest(dir, m);
    signPackage(dir, key);
    return { dir, sha256: m.files.float32.sha256 };
  }

  /** A PEM public key file of a fresh, unrelated key pair (for a board that must refuse the fleet's packages). */
  strangerPublicKey(name: string): string {
    const path = join(this.work, `${name}.pub.pem`);
    writeFileSync(path, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    return path;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.boards.values()].map((d) => d.dispose()));
  }
}
