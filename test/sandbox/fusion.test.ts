// The SandboxFusion client against a small local HTTP server that speaks the documented /run_code wire format
// (test/sandbox/fake-fusion.ts): it executes code with the real local sandbox and can fail requests on cue.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createSandboxFusion } from '../../sandbox/fusion.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';
import { startFakeService } from './fake-fusion.ts';
import type { FakeService } from './fake-fusion.ts';

describe('SandboxFusion client', () => {
  let local: LocalSandbox;
  let service: FakeService;

  before(async () => {
    local = createLocalSandbox({ poolSize: 2, hostUidBase: 61_200 });
    service = await startFakeService(local);
  });

  after(async () => {
    service.server.close();
    await local.close();
  });

  test('sends the documented request and maps results', async () => {
    const client = createSandboxFusion({ baseUrl: service.baseUrl, retries: 0 });
    service.requests.length = 0;
    const ok = await client.run({ code: 'print(open("data.txt").read().upper() + input())', stdin: '!', files: { 'data.txt': 'abc' }, timeoutMs: 5000, memoryMb: 256 });
    assert.deepEqual(service.requests[0], {
      code: 'print(open("data.txt").read().upper() + input())', language: 'python', run_timeout: 5, compile_timeout: 10,
      memory_limit_MB: 256, stdin: '!', files: { 'data.txt': Buffer.from('abc').toString('base64') }, fetch_files: [],
    });
    assert.equal(ok.status, 'finished');
    assert.equal(ok.stdout, 'ABC!\n');
    assert.equal(ok.exitCode, 0);

    const crash = await client.run({ code: 'raise KeyError("k")', timeoutMs: 5000 });
    assert.equal(crash.status, 'error');
    assert.match(crash.stderr, /KeyError: 'k'/);

    const slow = await client.run({ code: 'import time\ntime.sleep(10)', timeoutMs: 500 });
    assert.equal(slow.status, 'timeout');

    const broken = await client.run({ code: 'SANDBOX_ERROR' });
    assert.equal(broken.status, 'sandbox_error');
    assert.match(broken.reason ?? '', /SandboxError \(no worker\)/);

    const echoed = await client.run({ code: 'x = [1, 2]\nx + [3]', echoLastExpression: true, timeoutMs: 5000 });
    assert.equal(echoed.stdout, '[1, 2, 3]\n');
  });

  test('retries 5xx, 429 and dropped connections, then succeeds', async () => {
    const client = createSandboxFusion({ baseUrl: service.baseUrl, retries: 4, backoffMs: 5 });
    service.requests.length = 0;
    service.script = [503, 429, 'reset', 504];
    const result = await client.run({ code: 'print("done")', timeoutMs: 5000 });
    assert.equal(result.status, 'finished');
    assert.equal(result.stdout, 'done\n');
    assert.equal(service.requests.length, 5);
  });

  test('gives up cleanly after the configured retries', async () => {
    const client = createSandboxFusion({ baseUrl: service.baseUrl, retries: 2, backoffMs: 5 });
    service.requests.length = 0;
    service.script = [500, 502, 503, 503];
    const result = await client.run({ code: 'print(1)', timeoutMs: 5000 });
    assert.equal(result.status, 'sandbox_error');
    assert.match(result.stderr, /gave up after 3 attempts; last error: HTTP 503/);
    assert.equal(service.requests.length, 3);
    service.script = [];
  });

  test('does not retry client errors, and reports an unreachable service', async () => {
    const client = createSandboxFusion({ baseUrl: service.baseUrl, retries: 3, backoffMs: 5 });
    service.requests.length = 0;
    service.script = [400];
    const rejected = await client.run({ code: 'print(1)' });
    assert.equal(rejected.status, 'sandbox_error');
    assert.match(rejected.stderr, /refused the request: HTTP 400/);
    assert.equal(service.requests.length, 1);

    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const unreachable = createSandboxFusion({ baseUrl: `http://127.0.0.1:${deadPort}`, retries: 1, backoffMs: 5 });
    const down = await unreachable.run({ code: 'print(1)' });
    assert.equal(down.status, 'sandbox_error');
    assert.match(down.stderr, /gave up after 2 attempts; last error: .*ECONNREFUSED/);
  });

  test('never has more requests in flight than the concurrency limit', async () => {
    const client = createSandboxFusion({ baseUrl: service.baseUrl, concurrency: 3, retries: 0 });
    service.maxInFlight = 0;
    service.delayMs = 60;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client.run({ code: `print(${i} * 2)`, timeoutMs: 5000 })));
    service.delayMs = 0;
    assert.deepEqual(results.map((r) => r.stdout), Array.from({ length: 10 }, (_, i) => `${i * 2}\n`));
    assert.equal(service.maxInFlight, 3);
  });
});
