/**
 * A connectionless AF_UNIX / SOCK_DGRAM sender, the transport of systemd's notify protocol.
 *
 * Node has no unix datagram sockets (`dgram` is UDP only, `net` is stream only), so this calls libc's
 * `socket`/`sendto`/`close` through koffi — the FFI faceedge already ships for the TFLite C API, so no
 * new native module. Why not spawn `systemd-notify`: its datagrams carry the *child's* credentials, so
 * the unit would need `NotifyAccess=all` (any process in the cgroup — ffmpeg, rpicam-vid, gpioset —
 * could then claim READY or feed the watchdog), and it costs a fork+exec per watchdog ping. Sending
 * from the daemon's own PID keeps `NotifyAccess=main`.
 *
 * Linux only (x64/arm64 constants below); abstract socket names are written `@name`.
 */
import koffi, { type KoffiFunc } from 'koffi';
import { FaceedgeError } from '../errors.js';

// Loosely typed on purpose: the C signatures are declared as strings below.
type KoffiFunction = KoffiFunc<(...args: any[]) => any>;

// <sys/socket.h> on Linux x86-64 and aarch64 (MIPS differs; faceedge does not run there).
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
/** Don't raise SIGPIPE; report EPIPE instead. */
const MSG_NOSIGNAL = 0x4000;
/** offsetof(struct sockaddr_un, sun_path) and sizeof(sun_path). */
const SUN_PATH_OFFSET = 2;
const SUN_PATH_MAX = 108;

interface Libc {
  socket: KoffiFunction;
  sendto: KoffiFunction;
  close: KoffiFunction;
}

let libc: Libc | null = null;

function loadLibc(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux') {
    throw new FaceedgeError(
      'RUNTIME_UNAVAILABLE',
      `unix datagram sockets are implemented for Linux only, not ${process.platform}`,
    );
  }
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func(
      'intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)',
    ),
    close: lib.func('int close(int fd)'),
  };
  return libc;
}

/**
 * Encodes `struct sockaddr_un` for a filesystem path or, with a leading `@`, an abstract name (whose
 * first byte is NUL and whose length counts exactly the name bytes — no terminator).
 */
export function encodeSockaddrUn(address: string): Buffer {
  const abstract = address.startsWith('@');
  const name = Buffer.from(abstract ? address.slice(1) : address, 'utf8');
  const pathBytes = abstract ? 1 + name.length : name.length + 1;
  if (name.length === 0 || pathBytes > SUN_PATH_MAX) {
    throw new FaceedgeError(
      'USAGE',
      `unix socket address ${JSON.stringify(address)} is empty or longer than ${SUN_PATH_MAX - 1} bytes`,
    );
  }
  const sa = Buffer.alloc(SUN_PATH_OFFSET + pathBytes);
  sa.writeUInt16LE(AF_UNIX, 0); // sa_family_t is host order; both supported targets are little-endian
  name.copy(sa, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  return sa;
}

/** A datagram socket that sends one message per call to a given unix address. */
export class UnixDatagramSender {
  #fd: number;
  readonly #libc: Libc;

  private constructor(fd: number, c: Libc) {
    this.#fd = fd;
    this.#libc = c;
  }

  /** Opens an unbound AF_UNIX datagram socket (close-on-exec, so camera children do not inherit it). */
  static open(): UnixDatagramSender {
    const c = loadLibc();
    const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) throw errnoError('socket(AF_UNIX, SOCK_DGRAM)');
    return new UnixDatagramSender(fd, c);
  }

  /** Sends `message` as one datagram; throws (typed, with errno) when the kernel refuses it. */
  send(address: string, message: Buffer): void {
    if (this.#fd < 0) throw new FaceedgeError('USAGE', 'unix datagram socket is closed');
    const sa = encodeSockaddrUn(address);
    const sent = Number(this.#libc.sendto(this.#fd, message, message.length, MSG_NOSIGNAL, sa, sa.length));
    if (sent < 0) throw errnoError(`sendto(${address})`);
  }

  /** Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    this.#libc.close(this.#fd);
    this.#fd = -1;
  }
}

function errnoError(what: string): FaceedgeError {
  const code = koffi.errno();
  const name = Object.entries(koffi.os.errno).find(([, v]) => v === code)?.[0] ?? `errno ${code}`;
  return new FaceedgeError('NOTIFY_FAILED', `${what} failed: ${name}`, {
    hint: "NOTIFY_SOCKET must name the service manager's datagram socket (systemd sets it for Type=notify units)",
  });
}
