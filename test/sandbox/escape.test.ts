// Hostile snippets against the real local sandbox (bubblewrap + fork server). Each escape attempt must be
// contained, the host process must survive, and the sandbox must keep working for the next snippet.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';

const HOST_UID = 61_100;
const MAX_OUTPUT = 256 * 1024;

function hostProcessesOfUid(uid: number): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const realUid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const zombie = /^State:\s+Z/m.test(status); // dead, merely not yet reaped by the host's init
      if (realUid === uid && !zombie) found.push(`${entry} ${/^Name:\s+(.*)$/m.exec(status)?.[1]}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** The sandbox is healthy: a plain snippet runs, and only the server and the snippet exist in its pid namespace. */
async function assertHealthy(sandbox: LocalSandbox): Promise<void> {
  const result = await sandbox.run({
    code: 'import os\nprint(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) == [1, os.getpid()])\nprint(os.listdir("/tmp"))',
    timeoutMs: 5000,
  });
  assert.equal(result.status, 'finished', result.stderr);
  assert.equal(result.stdout, "True\n['work']\n");
}

describe('sandbox escape attempts', () => {
  let sandbox: LocalSandbox;
  let hostDir: string;

  before(async () => {
    process.env.AGENTRL_TEST_SECRET = 'host-secret-value';
    hostDir = mkdtempSync(join(tmpdir(), 'agentrl-escape-'));
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID, limits: { maxOutputBytes: MAX_OUTPUT } });
    await sandbox.warmUp();
  });

  after(async () => {
    await sandbox.close();
    rmSync(hostDir, { recursive: true, force: true });
    delete process.env.AGENTRL_TEST_SECRET;
  });

  test('host files cannot be read', async () => {
    const secretPath = join(hostDir, 'secret.txt');
    writeFileSync(secretPath, 'top secret');
    const code = [
      'import os',
      `for p in [${JSON.stringify(secretPath)}, "/etc/passwd", "/etc/shadow", "/root", "/work", "/home"]:`,
      '    try:',
      '        print(p, "READ", open(p).read()[:20])',
      '    except Exception as e:',
      '        print(p, type(e).__name__)',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 5000 });
    assert.equal(result.status, 'finished', result.stderr);
    assert.doesNotMatch(result.stdout, /READ/);
    assert.doesNotMatch(result.stdout, /top secret/);
    await assertHealthy(sandbox);
  });

  test('host files cannot be written, system paths are read-only', async () => {
    const target = join(hostDir, 'victim.txt');
    writeFileSync(target, 'original');
    const code = [
      `for p in [${JSON.stringify(target)}, "/usr/lib/evil.py", "/evil", "/etc/evil", "/bin/evil"]:`,
      '    try:',
      '        open(p, "w").write("pwned"); print(p, "WROTE")',
      '    except Exception as e:',
      '        print(p, type(e).__name__)',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 5000 });
    assert.equal(result.status, 'finished', result.stderr);
    assert.doesNotMatch(result.stdout, /WROTE/);
    assert.equal(readFileSync(target, 'utf8'), 'original');
    await assertHealthy(sandbox);
  });

  test('no network: a host listener on loopback is unreachable', async () => {
    let connections = 0;
    const listener: Server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    const code = [
      'import socket',
      'for host in ["127.0.0.1", "8.8.8.8", "pypi.org"]:',
      '    try:',
      `        socket.create_connection((host, ${port} if host == "127.0.0.1" else 443), timeout=1); print(host, "CONNECTED")`,
      '    except Exception as e:',
      '        print(host, type(e).__name__)',
      'print([i[1] for i in socket.if_nameindex()])',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 10_000 });
    listener.close();
    assert.equal(result.status, 'finished', result.stderr);
    assert.doesNotMatch(result.stdout, /CONNECTED/);
    assert.match(result.stdout, /\['lo'\]\n$/); // only the namespace's own loopback exists
    assert.equal(connections, 0);
  });

  test('a fork bomb is contained and leaves nothing behind', async () => {
    const code = 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass';
    const result = await sandbox.run({ code, timeoutMs: 2000 });
    assert.ok(result.status === 'timeout' || result.status === 'error', JSON.stringify(result));
    await assertHealthy(sandbox);
  });

  test('a memory bomb fails inside the sandbox with MemoryError', async () => {
    const code = 'chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))';
    const result = await sandbox.run({ code, timeoutMs: 10_000, memoryMb: 512 });
    assert.equal(result.status, 'error');
    assert.match(result.stderr, /MemoryError/);
    const big = await sandbox.run({ code: 'x = bytearray(8 * 1024**3)', timeoutMs: 5000, memoryMb: 512 });
    assert.equal(big.status, 'error');
    assert.match(big.stderr, /MemoryError/);
    await assertHealthy(sandbox);
  });

  test('tmpfs is size-limited: filling /tmp and /dev/shm fails', async () => {
    const code = [
      'import os',
      'for d in ["/tmp", "/dev/shm"]:',
      '    n = 0',
      '    try:',
      '        for i in range(1000):',
      '            with open(f"{d}/fill{i}", "wb") as f: f.write(b"x" * (8 * 1024 * 1024))',
      '            n += 1',
      '    except OSError as e:',
      '        print(d, "stopped", e.errno)',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 10_000 });
    assert.equal(result.status, 'finished', result.stderr);
    assert.match(result.stdout, /\/tmp stopped \d+\n\/dev\/shm stopped \d+/);
    await assertHealthy(sandbox); // and the files are gone for the next snippet
  });

  test('CPU spin is stopped at the time-out', async () => {
    const started = performance.now();
    const result = await sandbox.run({ code: 'while True:\n    pass', timeoutMs: 1000 });
    assert.equal(result.status, 'timeout');
    assert.ok(performance.now() - started < 10_000);
    await assertHealthy(sandbox);
  });

  test('an output flood is cut at the output limit', async () => {
    const result = await sandbox.run({ code: 'while True:\n    print("x" * 1000)', timeoutMs: 10_000 });
    assert.equal(result.status, 'error');
    assert.equal(result.reason, 'output_limit');
    assert.ok(result.stdout.length + result.stderr.length <= MAX_OUTPUT);
    await assertHealthy(sandbox);
  });

  test('sleeping past the time-out is a timeout', async () => {
    const result = await sandbox.run({ code: 'import time\nprint("start", flush=True)\ntime.sleep(30)\nprint("never")', timeoutMs: 500 });
    assert.equal(result.status, 'timeout');
    assert.equal(result.stdout, 'start\n');
    await assertHealthy(sandbox);
  });

  test('leftover child processes are dead after the run', async () => {
    const code = [
      'import os, subprocess, sys, time',
      'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.4); open(\'/tmp/late-marker\', \'w\').write(\'x\'); time.sleep(100)"], start_new_session=True)',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    if os.fork() == 0:',
      '        time.sleep(0.4); open("/tmp/daemon-marker", "w").write("x"); time.sleep(100)',
      '    os._exit(0)',
      'print("spawned")',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 5000 });
    assert.equal(result.status, 'finished', result.stderr);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await assertHealthy(sandbox); // no extra pids, and no marker files written after the run ended
  });

  test('signals to the parent, to everyone and to the host do not break the sandbox', async () => {
    const code = [
      'import os, signal',
      `for pid in [1, os.getppid(), ${process.pid}, -1]:`,
      '    for sig in [signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP]:',
      '        try:',
      '            os.kill(pid, sig)',
      '        except Exception as e:',
      '            pass',
      'print("alive")',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 5000 });
    // kill(-1, SIGKILL) takes the snippet itself down; the server (PID 1) ignores signals from inside.
    assert.ok(result.status === 'error' || result.status === 'finished', JSON.stringify(result));
    assert.notEqual(result.status, 'sandbox_error');
    await assertHealthy(sandbox);
  });

  test('remounting, new namespaces and capabilities are refused', async () => {
    const code = [
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'MS_REMOUNT, MS_BIND = 32, 4096',
      'print("remount", libc.mount(None, b"/usr", None, MS_REMOUNT | MS_BIND, None), ctypes.get_errno())',
      'print("mount", libc.mount(b"tmpfs", b"/mnt", b"tmpfs", 0, None), ctypes.get_errno())',
      'print("unshare", libc.unshare(0x10000000), ctypes.get_errno())',  // CLONE_NEWUSER
      'print("chroot", libc.chroot(b"/tmp"), ctypes.get_errno())',
      'print(open("/proc/self/status").read().split("CapEff:")[1].split()[0])',
      'try:\n    open("/usr/lib/evil", "w")\nexcept OSError as e:\n    print("write", e.errno)',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 5000 });
    assert.equal(result.status, 'finished', result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0], /^remount -1 \d+$/);
    assert.match(lines[1], /^mount -1 \d+$/);
    assert.match(lines[2], /^unshare -1 \d+$/);
    assert.match(lines[3], /^chroot -1 \d+$/);
    assert.equal(lines[4], '0000000000000000');
    assert.match(lines[5], /^write (30|13)$/); // EROFS or EACCES
  });

  test('/proc shows no host processes and no host environment', async () => {
    const code = [
      'import os',
      'print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) == [1, os.getpid()])',
      'print("AGENTRL_TEST_SECRET" in os.environ, os.getuid(), os.getgid())',
      'try:\n    print("ENV1", open("/proc/1/environ", "rb").read())\nexcept OSError as e:\n    print("environ1", e.errno)',
      'print(open("/proc/1/cmdline", "rb").read().split(b"\\0")[0])',
      `print(os.path.exists("/proc/${process.pid}/environ"))`,
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 5000 });
    assert.equal(result.status, 'finished', result.stderr);
    assert.doesNotMatch(result.stdout, /host-secret-value/);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines[0], 'True');
    assert.equal(lines[1], 'False 65534 65534');
    assert.doesNotMatch(lines[2], /AGENTRL_TEST_SECRET/);
    assert.equal(lines[3], "b'/usr/bin/python3'");
  });

  test('a killed server is replaced transparently, and close() leaves no process behind', async () => {
    for (const line of hostProcessesOfUid(HOST_UID)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const result = await sandbox.run({ code: 'print(6 * 7)', timeoutMs: 5000 });
    assert.equal(result.status, 'finished', result.stderr);
    assert.equal(result.stdout, '42\n');
    await sandbox.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(hostProcessesOfUid(HOST_UID), []);
  });
});
