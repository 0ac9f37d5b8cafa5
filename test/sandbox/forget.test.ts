// A sandbox that forgets and cannot be knocked over: state a snippet leaves (files in /dev, SysV and POSIX IPC,
// keyrings) never reaches the next snippet; crafted states (000 trees, deep nesting, a locked /tmp, SIGINT to
// PID 1, junk on descriptors) never kill the server or the host; infrastructure failures are retried on a fresh
// server or come back as sandbox_error. After each hostile snippet the next innocent call is healthy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createMemoryCgroup } from '../../sandbox/cgroup.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';

const HOST_UID = 61_500;

async function assertInnocentCallHealthy(sandbox: LocalSandbox): Promise<void> {
  const result = await sandbox.run({
    code: 'import os\nprint(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) == [1, os.getpid()])\nprint(os.listdir("/tmp"), os.listdir("/dev/shm"))\nprint(open("/proc/sysvipc/shm").read().count("\\n"))\nprint(sum(map(int, input().split())))',
    stdin: '20 22\n',
    timeoutMs: 5000,
  });
  assert.equal(result.status, 'finished', result.stderr);
  assert.equal(result.stdout, "True\n['work'] []\n1\n42\n");
}

function hostPidsOfUid(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid && !/^State:\s+Z/m.test(status)) pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

describe('persistence: every call starts from a clean slate', () => {
  let sandbox: LocalSandbox;
  before(async () => {
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID });
    await sandbox.warmUp();
  });
  after(() => sandbox.close());

  test('/dev is read-only; /dev/shm is wiped', async () => {
    const leave = await sandbox.run({
      code: 'try:\n    open("/dev/keep", "w").write("x")\n    print("dev writable")\nexcept OSError as e:\n    print("dev", e.errno)\nopen("/dev/shm/keep", "w").write("x")\nprint("shm ok")',
      timeoutMs: 5000,
    });
    assert.equal(leave.stdout, 'dev 30\nshm ok\n'); // EROFS
    await assertInnocentCallHealthy(sandbox);
  });

  test('SysV shared memory, semaphores and message queues are removed; POSIX queues cannot be created', async () => {
    const code = [
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'print(libc.shmget(0x1234, 1 << 20, 0o1666) >= 0, libc.semget(0x1235, 1, 0o1666) >= 0, libc.msgget(0x1236, 0o1666) >= 0)',
      'libc.mq_open.restype = ctypes.c_int',
      'print(libc.mq_open(b"/keep", os.O_CREAT | os.O_RDWR, 0o666, None) == -1)',
    ].join('\n');
    const leave = await sandbox.run({ code, timeoutMs: 5000 });
    assert.equal(leave.stdout, 'True True True\nTrue\n', leave.stderr);
    const look = await sandbox.run({
      code: 'print([len(open(f"/proc/sysvipc/{t}").read().splitlines()) - 1 for t in ("shm", "sem", "msg")])',
      timeoutMs: 5000,
    });
    assert.equal(look.stdout, '[0, 0, 0]\n');
    await assertInnocentCallHealthy(sandbox);
  });

  test('keys added to the user and session keyrings are gone in the next call', async () => {
    const addKey = [
      'import ctypes',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'for ring in (-4, -3):',
      '    print(libc.syscall(248, b"user", b"agentrl-keep", b"secret", 6, ctypes.c_long(ring)) > 0)',
    ].join('\n');
    const leave = await sandbox.run({ code: addKey, timeoutMs: 5000 });
    assert.equal(leave.stdout, 'True\nTrue\n', leave.stderr);
    const search = [
      'import ctypes',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'for ring in (-4, -3):',
      '    print(libc.syscall(250, 10, ctypes.c_long(ring), b"user", b"agentrl-keep", 0))', // KEYCTL_SEARCH
    ].join('\n');
    const look = await sandbox.run({ code: search, timeoutMs: 5000 });
    assert.equal(look.stdout, '-1\n-1\n');
    await assertInnocentCallHealthy(sandbox);
  });

  test('memory is bounded for the snippet as a whole (cgroup), or per process (fallback)', async () => {
    // Four processes of 200 MiB each under a 256 MiB limit: only the per-process cap would let all four succeed.
    const code = [
      'import os, time',
      'pids = []',
      'for _ in range(4):',
      '    pid = os.fork()',
      '    if pid == 0:',
      '        try:',
      '            block = bytearray(200 << 20)',
      '            for i in range(0, len(block), 4096): block[i] = 1',
      '            time.sleep(1.5)',
      '            os._exit(0)',
      '        except MemoryError:',
      '            os._exit(3)',
      '    pids.append(pid)',
      'print(sum(os.waitpid(p, 0)[1] == 0 for p in pids))',
    ].join('\n');
    const result = await sandbox.run({ code, timeoutMs: 10_000, memoryMb: 256 });
    const probe = createMemoryCgroup(`agentrl-probe-${process.pid}`);
    probe?.remove();
    if (probe) assert.notEqual(result.stdout, '4\n', 'all four 200 MiB processes survived a 256 MiB cgroup');
    else assert.equal(result.stdout, '4\n', 'fallback: each process alone stays under its RLIMIT_AS');
    await assertInnocentCallHealthy(sandbox);
  });
});

describe('crash: crafted states never take the server (or the host) down', () => {
  let sandbox: LocalSandbox;
  before(async () => {
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID + 10 });
    await sandbox.warmUp();
  });
  after(() => sandbox.close());

  const hostile: [string, string][] = [
    ['a chmod 000 tree', 'import os\nos.makedirs("/tmp/a/b/c")\nopen("/tmp/a/b/c/f", "w").write("x")\nfor d in ("/tmp/a/b/c", "/tmp/a/b", "/tmp/a"): os.chmod(d, 0)\nos.chmod("/tmp/work", 0)'],
    ['nesting deeper than PATH_MAX', 'import os\nos.chdir("/tmp")\nfor i in range(3000):\n    os.mkdir("d" * 50)\n    os.chdir("d" * 50)\nopen("f", "w").write("x")'],
    ['a read-only /tmp and /dev/shm', 'import os\nopen("/tmp/ro", "w").write("x")\nos.chmod("/tmp/ro", 0o400)\nos.chmod("/tmp", 0o500)\nos.chmod("/dev/shm", 0)'],
    ['SIGINT and every other signal to PID 1', 'import os, signal\nfor s in range(1, 32):\n    if s not in (signal.SIGKILL, signal.SIGSTOP):\n        try: os.kill(1, s)\n        except OSError: pass\nimport time; time.sleep(0.2)'],
    ['junk on every descriptor', 'import os\nfor fd in range(0, 1024):\n    try: os.write(fd, b"\\x00\\xff\\xff\\xff junk {\\"exit\\": 0}\\n" * 10)\n    except OSError: pass\nos._exit(0)'],
    ['many files', 'import os\nos.chdir("/tmp")\nfor i in range(20000): open(str(i), "w").close()'],
  ];
  for (const [name, code] of hostile) {
    test(`${name}: the call returns, the next innocent call is healthy`, async () => {
      const result = await sandbox.run({ code, timeoutMs: 20_000 });
      assert.notEqual(result.status, 'sandbox_error', result.stderr);
      await assertInnocentCallHealthy(sandbox);
    });
  }
});

describe('retire: a server that cannot restore a clean slate in time answers, exits and is never reused', () => {
  test('every run overruns the clean-up budget: each answer is right and every next call gets a fresh server', async () => {
    const sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID + 30, wipeBudgetMs: 1 });
    try {
      const litter = 'import os\nfor i in range(3000): open(f"/tmp/{i}", "w").close()\n';
      for (let i = 0; i < 3; i++) {
        const result = await sandbox.run({ code: litter + 'print(os.getppid(), len(os.listdir("/tmp")))', timeoutMs: 10_000 });
        assert.equal(result.status, 'finished', result.stderr);
        const [, count] = result.stdout.trim().split(' ');
        assert.equal(count, '3001', 'each call started from an empty /tmp (a fresh server)');
      }
      // A whole problem whose every test litters: the cases left after a retire go to the next fresh server.
      const cases = Array.from({ length: 5 }, (_, i) => `${i}\n`);
      const runs = await sandbox.runCases({ mode: 'stdin', code: litter + 'print(int(input()) * 2)', stdins: cases }, { timeoutMs: 10_000, memoryMb: 256 });
      assert.deepEqual(runs.map((r) => r.stdout), ['0\n', '2\n', '4\n', '6\n', '8\n']);
      assert.ok(runs.every((r) => r.status === 'finished'));
    } finally {
      await sandbox.close();
    }
  });
});

describe('infrastructure failure: retried on a fresh server, else sandbox_error', () => {
  test('a server killed mid-call is replaced and the call retried', async () => {
    const sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID + 20, retries: 1 });
    try {
      await sandbox.warmUp();
      const call = sandbox.run({ code: 'import time\ntime.sleep(1)\nprint(sum(map(int, input().split())))', stdin: '1 2', timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      const victims = hostPidsOfUid(HOST_UID + 20);
      assert.ok(victims.length > 0);
      for (const pid of victims) process.kill(pid, 'SIGKILL');
      const result = await call;
      assert.equal(result.status, 'finished', result.stderr);
      assert.equal(result.stdout, '3\n');
      await assertInnocentCallHealthy(sandbox);
    } finally {
      await sandbox.close();
    }
  });

  test('without retries left the call is a sandbox_error naming the cause, and the pool recovers', async () => {
    const sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID + 21, retries: 0 });
    try {
      await sandbox.warmUp();
      const call = sandbox.run({ code: 'import time\ntime.sleep(1)\nprint("late")', timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      for (const pid of hostPidsOfUid(HOST_UID + 21)) process.kill(pid, 'SIGKILL');
      const result = await call;
      assert.equal(result.status, 'sandbox_error');
      assert.match(result.stderr, /sandbox server exited/);
      await assertInnocentCallHealthy(sandbox);
    } finally {
      await sandbox.close();
    }
  });
});
