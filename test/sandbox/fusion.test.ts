// The SandboxFusion client against a small local HTTP server that speaks the documented /run_code wire format.
// The server executes code with the real local sandbox, and can be told to fail the next requests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createSandboxFusion } from '../../sandbox/fusion.ts';
import type { RunCodeRequest } from '../../sandbox/fusion.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';

interface FakeService {
  server: Server;
  baseUrl: string;
  /** Behaviour of upcoming requests, consumed in order: an HTTP status, 'reset' (drop the socket), or 'ok'. */
  script: (number | 'reset' | 'ok')[];
  requests: RunCodeRequest[];
  inFlight: number;
  maxInFlight: number;
  delayMs: number;
}

async function startFakeService(local: LocalSandbox): Promise<FakeService> {
  const service = { script: [], requests: [], inFlight: 0, maxInFlight: 0, delayMs: 0 } as unknown as FakeService;
  service.server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', async () => {
      service.inFlight += 1;
      service.maxInFlight = Math.max(service.maxInFlight, service.inFlight);
      try {
        const body = JSON.parse(raw) as RunCodeRequest;
        service.requests.push(body);
        if (service.delayMs) await new Promise((resolve) => setTimeout(resolve, service.delayMs));
        const step = service.script.shift() ?? 'ok';
        if (step === 'reset') {
          req.socket.destroy();
          return;
        }
        if (step !== 'ok') {
          res.writeHead(step, { 'content-type': 'text/plain' }).end(`scripted failure ${step}`);
          return;
        }
        assert.equal(req.url, '/run_code');
        assert.equal(body.language, 'python');
        if (body.code === 'SANDBOX_ERROR') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'SandboxError', message: 'no worker', compile_result: null, run_result: null, files: {} }));
          return;
        }
        const files: Record<string, Uint8Array> = {};
        for (const [path, b64] of Object.entries(body.files)) files[path] = Buffer.from(b64, 'base64');
        const result = await local.run({ code: body.code, stdin: body.stdin, files, timeoutMs: body.run_timeout * 1000, memoryMb: body.memory_limit_MB });
        const runStatus = result.status === 'timeout' ? 'TimeLimitExceeded' : result.status === 'finished' ? 'Finished' : 'Error';
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          status: result.status === 'finished' ? 'Success' : 'Failed',
          message: '',
          compile_result: null,
          run_result: { status: runStatus, execution_time: result.executionTimeMs / 1000, return_code: result.exitCode, stdout: result.stdout, stderr: result.stderr },
          files: {},
        }));
      } finally {
        service.inFlight -= 1;
      }
    });
  });
  await new Promise<void>((resolve) => service.server.listen(0, '127.0.0.1', resolve));
  service.baseUrl = `http://127.0.0.1:${(service.server.address() as { port: number }).port}`;
  return service;
}

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
