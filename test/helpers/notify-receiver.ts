/**
 * A real systemd-style notify socket for tests: a python3 child binds an AF_UNIX SOCK_DGRAM socket
 * (a path, or `@name` for an abstract one), turns on SO_PASSCRED like systemd does, and reports each
 * datagram with the sender's PID from the kernel's SCM_CREDENTIALS — so a test can check that the
 * message came from the process `NotifyAccess=main` would accept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const RECEIVER = String.raw`
import json, socket, struct, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
print(json.dumps({"bound": addr}), flush=True)
while True:
    data, anc, _flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, _uid, _gid = struct.unpack("iII", payload[:12])
    print(json.dumps({"pid": pid, "message": data.decode()}), flush=True)
`;

export interface NotifyDatagram {
  readonly pid: number | null;
  readonly message: string;
}

export class NotifyReceiver {
  readonly received: NotifyDatagram[] = [];
  #waiters: Array<() => void> = [];

  readonly #child: ChildProcess;

  private constructor(
    readonly address: string,
    child: ChildProcess,
  ) {
    this.#child = child;
  }

  static start(address: string): Promise<NotifyReceiver> {
    const child = spawn(PYTHON, ['-c', RECEIVER, address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const receiver = new NotifyReceiver(address, child);
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`notify receiver exited (${code}): ${stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as { bound?: string } & NotifyDatagram;
        if (msg.bound) return resolve(receiver);
        receiver.received.push({ pid: msg.pid, message: msg.message });
        for (const w of receiver.#waiters.splice(0)) w();
      });
    });
  }

  /** Resolves once `count` datagrams arrived (rejects after `timeoutMs`, default 5 s). */
  async waitFor(count: number, timeoutMs = 5000): Promise<NotifyDatagram[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} notify datagrams, got ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.slice();
  }

  stop(): void {
    this.#child.removeAllListeners('exit');
    this.#child.kill('SIGKILL');
  }
}
