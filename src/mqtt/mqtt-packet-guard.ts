/**
 * A size bound on the MQTT packets a client sends to the embedded broker, enforced while the bytes arrive:
 * aedes (1.x) has no maximum packet size, and its parser (mqtt-packet) buffers a packet whole, up to the 256 MB
 * the protocol allows, before anyone can look at it. The guard sits between the TCP socket and aedes, reads
 * each packet's fixed header (type byte, then the "remaining length" varint of MQTT 3.1.1 §2.2.3) and closes
 * the connection as soon as a header declares a packet larger than the bound, before its body is read.
 * Bytes pass through unchanged; a malformed length is left to aedes' parser to refuse.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** Bytes of the fixed header's "remaining length": at most 4 (MQTT 3.1.1 §2.2.3). */
const MAX_LENGTH_BYTES = 4;

/** Follows the packet boundaries of a byte stream; says when a packet's declared size is over the bound. */
export class PacketSizeMeter {
  readonly #max: number;
  #state: 'type' | 'length' | 'body' = 'type';
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #remaining = 0;

  /** @param maxPacketBytes largest whole packet accepted (fixed header included), bytes. */
  constructor(maxPacketBytes: number) {
    this.#max = maxPacketBytes;
  }

  /** Takes the next bytes; returns the declared size of a packet over the bound, or null while all are within. */
  accept(chunk: Buffer): number | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'type') {
        i += 1;
        this.#state = 'length';
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
      } else if (this.#state === 'length') {
        const byte = chunk[i++];
        this.#length += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        this.#lengthBytes += 1;
        if (byte & 0x80 && this.#lengthBytes < MAX_LENGTH_BYTES) continue;
        const total = 1 + this.#lengthBytes + this.#length;
        if (total > this.#max) return total;
        this.#remaining = this.#length;
        this.#state = this.#remaining === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.#remaining, chunk.length - i);
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = 'type';
      }
    }
    return null;
  }
}

/**
 * `socket` as a stream for aedes that ends the connection when a packet declares more than
 * `maxPacketBytes`; `onOversized` is told the declared size (the packet itself is never read).
 */
export class PacketSizeGuard extends Duplex {
  readonly #socket: Socket;

  constructor(socket: Socket, maxPacketBytes: number, onOversized: (declaredBytes: number) => void) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    const meter = new PacketSizeMeter(maxPacketBytes);
    socket.on('data', (chunk: Buffer) => {
      const oversized = meter.accept(chunk);
      if (oversized !== null) {
        onOversized(oversized);
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /** The client's address, as aedes and the broker's login log read it from a socket. */
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#socket.write(chunk, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.#socket.end(done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#socket.destroy();
    done(err);
  }
}
