// A small SandboxFusion stand-in for tests: a node:http server on 127.0.0.1 that speaks the documented
// /run_code wire format, executes code with the real local sandbox, and can be told to fail upcoming requests.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { RunCodeRequest } from '../../sandbox/fusion.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';

export interface FakeService {
  server: Server;
  baseUrl: string;
  /** Behaviour of upcoming requests, consumed in order: an HTTP status, 'reset' (drop the socket), or 'ok'. */
  script: (number | 'reset' | 'ok')[];
  requests: RunCodeRequest[];
  inFlight: number;
  maxInFlight: number;
  delayMs: number;
}

export async function startFakeService(local: LocalSandbox): Promise<FakeService> {
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
