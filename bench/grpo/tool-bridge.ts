// The baseline's way into our sandbox (bench/grpo/torch_grpo.py): JSON lines on stdin, {id, code} per call, each
// answered on stdout as {id, text, status, ms} when it finishes (calls run concurrently, bounded like the agent
// loop's). The tool runner's options come as one JSON argument, the same the agent loop's runner gets, so both
// sides run the same programs in the same sandbox under the same limits.
import { createInterface } from 'node:readline';
import { ToolRunner } from '../../agent/index.ts';
import { createLocalSandbox } from '../../sandbox/index.ts';

const opts = JSON.parse(process.argv[2] ?? '{}') as { poolSize: number; concurrency: number; timeoutMs: number; memoryMb: number; outputChars: number };
const sandbox = createLocalSandbox({ poolSize: opts.poolSize });
const tools = new ToolRunner({ sandbox, concurrency: opts.concurrency, timeoutMs: opts.timeoutMs, memoryMb: opts.memoryMb, outputChars: opts.outputChars });
// Start the pool before the baseline's clock does (the agent loop's sandbox is warm too).
await tools.run({ code: 'print(1)' });
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
const pending: Promise<void>[] = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const req = JSON.parse(line) as { id: number; code: string };
  pending.push(
    tools.run({ code: req.code }).then((r) => {
      process.stdout.write(JSON.stringify({ id: req.id, text: r.text, status: r.status, ms: r.timeMs }) + '\n');
    }),
  );
}
await Promise.all(pending);
await sandbox.close();
