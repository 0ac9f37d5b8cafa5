// Stateful sessions (one persistent interpreter per trajectory) in the real local sandbox.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';
import { CodeInterpreter } from '../../sandbox/tool.ts';

const HOST_UID = 61_600;

function liveProcessesOfUid(uid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid && !/^State:\s+Z/m.test(status)) count += 1;
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

describe('stateful sandbox sessions', () => {
  let sandbox: LocalSandbox;

  before(() => {
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID });
  });
  after(() => sandbox.close());

  test('variables, imports and files persist between runs of one session', async () => {
    const session = await sandbox.openSession();
    try {
      assert.equal((await session.run({ code: 'import math\nx = 41\nopen("notes.txt", "w").write("kept")' })).status, 'finished');
      const second = await session.run({ code: 'print(x + 1, math.floor(2.5), open("notes.txt").read())' });
      assert.equal(second.stdout, '42 2 kept\n');
      assert.equal((await session.run({ code: 'x * 2', echoLastExpression: true })).stdout, '82\n');
      assert.equal((await session.run({ code: 'print(input()[::-1])', stdin: 'abc' })).stdout, 'cba\n');
    } finally {
      await session.close();
    }
  });

  test('sessions are isolated from each other and from stateless runs', async () => {
    const a = await sandbox.openSession();
    const b = await sandbox.openSession();
    try {
      await a.run({ code: 'secret = "a"\nopen("/tmp/a.txt", "w").write("a")' });
      const fromB = await b.run({ code: 'import os\nprint("secret" in globals(), os.path.exists("/tmp/a.txt"))' });
      assert.equal(fromB.stdout, 'False False\n');
      const stateless = await sandbox.run({ code: 'import os\nprint("secret" in globals(), os.path.exists("/tmp/a.txt"))' });
      assert.equal(stateless.stdout, 'False False\n');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('processes a run leaves behind are killed, the interpreter is kept', async () => {
    const session = await sandbox.openSession();
    try {
      await session.run({ code: 'import subprocess, os\nkeep = os.getpid()\nsubprocess.Popen(["sleep", "100"])\nsubprocess.Popen(["sleep", "100"], start_new_session=True)' });
      const check = await session.run({ code: 'print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()) == [1, keep], os.getpid() == keep)' });
      assert.equal(check.stdout, 'True True\n');
    } finally {
      await session.close();
    }
  });

  test('a time-out or a dead interpreter restarts it, and the next run says state was lost', async () => {
    const session = await sandbox.openSession();
    try {
      await session.run({ code: 'x = 1' });
      const slow = await session.run({ code: 'while True: pass', timeoutMs: 300 });
      assert.equal(slow.status, 'timeout');
      const after = await session.run({ code: 'print("x" in globals())' });
      assert.equal(after.status, 'finished');
      assert.equal(after.stdout, 'False\n');
      assert.match(after.stderr, /^\[the interpreter was restarted: variables from earlier calls are gone\]\n$/);

      await session.run({ code: 'y = 2' });
      const killed = await session.run({ code: 'import os, signal\nos.kill(1, signal.SIGKILL)\nos.kill(os.getpid(), signal.SIGKILL)' });
      assert.equal(killed.status, 'error');
      assert.equal(killed.signal, 'SIGKILL');
      const next = await session.run({ code: 'print(1)' });
      assert.equal(next.stdout, '1\n');
      assert.match(next.stderr, /interpreter was restarted/);
      assert.equal((await session.run({ code: 'print(2)' })).stderr, '');
    } finally {
      await session.close();
    }
  });

  test('junk or a forged end-of-call on the control socket restarts the interpreter, never the server', async () => {
    const session = await sandbox.openSession();
    try {
      await session.run({ code: 'x = 1' });
      const forge = [
        'import os, stat, time',
        'for name in os.listdir("/proc/self/fd"):',
        '    fd = int(name)',
        '    try:',
        '        if stat.S_ISSOCK(os.fstat(fd).st_mode):',
        '            os.write(fd, b"\\x00\\xffjunk")',
        '            os.write(fd, b\'{"exit": 0, "token": "guess"}\')',
        '    except OSError:',
        '        pass',
        'time.sleep(3)',
        'print("still running")',
      ].join('\n');
      const t0 = performance.now();
      const forged = await session.run({ code: forge, timeoutMs: 10_000 });
      assert.equal(forged.status, 'error');
      assert.equal(forged.reason, 'control_channel');
      assert.ok(performance.now() - t0 < 2500, 'the forged call was cut short, not waited for');
      const next = await session.run({ code: 'print("x" in globals(), 6 * 7)' });
      assert.equal(next.status, 'finished', next.stderr);
      assert.equal(next.stdout, 'False 42\n');
      assert.match(next.stderr, /interpreter was restarted/);
      assert.equal((await sandbox.run({ code: 'print(2 + 2)' })).stdout, '4\n');
    } finally {
      await session.close();
    }
  });

  test('a thread left running after a call ends the interpreter (it could answer the next call)', async () => {
    const session = await sandbox.openSession();
    try {
      const left = await session.run({ code: 'import threading, time\nthreading.Thread(target=time.sleep, args=(100,), daemon=True).start()\ny = 5' });
      assert.equal(left.status, 'finished');
      const next = await session.run({ code: 'print("y" in globals())' });
      assert.equal(next.stdout, 'False\n');
      assert.match(next.stderr, /interpreter was restarted/);
    } finally {
      await session.close();
    }
  });

  test('a stateful code_interpreter keeps variables across tool calls', async () => {
    const session = await sandbox.openSession();
    try {
      const tool = new CodeInterpreter({ sandbox: session, timeoutMs: 5000 });
      await tool.execute({ code: 'import numpy as np\na = np.arange(5)' });
      assert.equal((await tool.execute({ code: 'int(a.sum())' })).text, '10\n');
    } finally {
      await session.close();
    }
  });

  test('closing the sandbox closes open sessions and leaves no process behind', async () => {
    const own = createLocalSandbox({ poolSize: 1, hostUidBase: HOST_UID + 100 });
    const session = await own.openSession();
    await session.run({ code: 'import subprocess\nsubprocess.Popen(["sleep", "100"])\nz = 1' });
    assert.ok(liveProcessesOfUid(HOST_UID + 101) >= 2);
    await own.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(liveProcessesOfUid(HOST_UID + 101), 0);
    assert.equal((await session.run({ code: 'print(z)' })).status, 'sandbox_error');
  });
});
