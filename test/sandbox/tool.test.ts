// The code_interpreter tool over both backends: what the model sees for output, errors, time-outs and failures.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSandboxFusion } from '../../sandbox/fusion.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';
import { codeFromArguments } from '../../chat/toolCalls.ts';
import { CodeInterpreter, truncateOutput } from '../../sandbox/tool.ts';
import { startFakeService } from './fake-fusion.ts';
import type { FakeService } from './fake-fusion.ts';

describe('code_interpreter tool', () => {
  let sandbox: LocalSandbox;
  let service: FakeService;
  let tool: CodeInterpreter;

  before(async () => {
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: 61_400 });
    service = await startFakeService(sandbox);
    tool = new CodeInterpreter({ sandbox, timeoutMs: 2000, memoryMb: 512 });
  });
  after(async () => {
    service.server.close();
    await sandbox.close();
  });

  test('shows stdout followed by stderr, tracebacks included', async () => {
    const result = await tool.execute({ code: 'import sys\nprint("out")\nprint("warn", file=sys.stderr)' });
    assert.equal(result.status, 'finished');
    assert.equal(result.text, 'out\nwarn\n');
    const crash = await tool.execute({ code: 'print("before")\n1 / 0' });
    assert.equal(crash.status, 'error');
    assert.match(crash.text, /^before\nTraceback \(most recent call last\):\n {2}File "<string>", line 2, in <module>\n/);
    assert.match(crash.text, /ZeroDivisionError: division by zero\n$/);
    assert.doesNotMatch(crash.text, /agentrl/);
  });

  test('echoes a final expression by parsing, like a REPL', async () => {
    const run = async (code: string) => (await tool.execute({ code })).text;
    assert.equal(await run('x = 5\nx * 2'), '10\n');
    assert.equal(await run('x = 5'), '');
    assert.equal(await run('print("once")'), 'once\n'); // print returns None: nothing echoed
    assert.equal(await run('for i in range(3):\n    y = i * 2'), ''); // a loop body is never wrapped in print()
    assert.equal(await run('import math\nmath.sqrt(16) if True else 0'), '4.0\n');
    assert.equal(await run('"text"'), "'text'\n");
    const plain = new CodeInterpreter({ sandbox, timeoutMs: 2000, echoLastExpression: false });
    assert.equal((await plain.execute({ code: 'x = 5\nx * 2' })).text, '');
  });

  test('truncates long output to the configured length and side', async () => {
    const code = 'print("a" * 300 + "b" * 300, end="")';
    const middle = await tool.execute({ code });
    assert.equal(middle.truncated, true);
    assert.equal(middle.text, `${'a'.repeat(128)}\n[... 344 characters truncated ...]\n${'b'.repeat(128)}`);
    const head = await new CodeInterpreter({ sandbox, maxOutputChars: 10, truncateSide: 'head' }).execute({ code });
    assert.equal(head.text, `aaaaaaaaaa\n[... 590 characters truncated ...]\n`);
    const tail = await new CodeInterpreter({ sandbox, maxOutputChars: 10, truncateSide: 'tail' }).execute({ code });
    assert.equal(tail.text, `\n[... 590 characters truncated ...]\nbbbbbbbbbb`);
    const full = await new CodeInterpreter({ sandbox, maxOutputChars: 0 }).execute({ code });
    assert.equal(full.text.length, 600);
    assert.deepEqual(truncateOutput('😀😀😀', 2, 'head').text.slice(0, 4), '😀😀');
  });

  test('a time-out gives a fixed message', async () => {
    const result = await new CodeInterpreter({ sandbox, timeoutMs: 300 }).execute({ code: 'import time\ntime.sleep(5)' });
    assert.equal(result.status, 'timeout');
    assert.equal(result.text, 'Execution timed out after 0.3 seconds.');
  });

  test('is stateless per call', async () => {
    await tool.execute({ code: 'secret = 41' });
    const result = await tool.execute({ code: 'print(secret + 1)' });
    assert.match(result.text, /NameError: name 'secret' is not defined/);
  });

  test('bad arguments are explained to the model instead of crashing', async () => {
    assert.equal((await tool.execute({})).status, 'invalid_arguments');
    assert.match((await tool.execute({ code: 5 })).text, /needs a string argument "code"/);
    assert.equal((await tool.execute([1, 2])).status, 'invalid_arguments');
    assert.equal((await tool.execute('{"code": "print(7)"}')).text, '7\n');
    assert.equal(codeFromArguments('print(8)'), 'print(8)');
    assert.equal(codeFromArguments('{not json'), '{not json');
  });

  test('a broken sandbox gives a failure message', async () => {
    const dead = createLocalSandbox({ poolSize: 1, hostUidBase: 61_410 });
    await dead.close();
    const result = await new CodeInterpreter({ sandbox: dead }).execute({ code: 'print(1)' });
    assert.equal(result.status, 'sandbox_error');
    assert.match(result.text, /^Execution failed: the sandbox is unavailable \(the sandbox is closed\)\.$/);
  });

  test('preloaded modules are ready in every call', async () => {
    const preloaded = createLocalSandbox({ poolSize: 1, hostUidBase: 61_420, preload: ['numpy', 'sympy'] });
    try {
      const numeric = new CodeInterpreter({ sandbox: preloaded, memoryMb: 256 });
      const result = await numeric.execute({ code: 'import numpy as np, sympy as sp\nprint(np.arange(4).sum())\nsp.factorint(360)' });
      assert.equal(result.text, '6\n{2: 3, 3: 2, 5: 1}\n');
    } finally {
      await preloaded.close();
    }
  });

  test('runs the same way through SandboxFusion', async () => {
    const remote = new CodeInterpreter({ sandbox: createSandboxFusion({ baseUrl: service.baseUrl, retries: 0 }), timeoutMs: 2000 });
    assert.equal((await remote.execute({ code: 'x = [3, 1, 2]\nsorted(x)' })).text, '[1, 2, 3]\n');
    const crash = await remote.execute({ code: 'def f():\n    return 1 / 0\nf()' });
    assert.equal(crash.status, 'error');
    assert.match(crash.text, /line 2, in f\n/);
    assert.match(crash.text, /ZeroDivisionError/);
    assert.doesNotMatch(crash.text, /_agentrl_/);
    const slow = await new CodeInterpreter({ sandbox: createSandboxFusion({ baseUrl: service.baseUrl, retries: 0 }), timeoutMs: 300 }).execute({ code: 'while True: pass' });
    assert.equal(slow.status, 'timeout');
  });
});
