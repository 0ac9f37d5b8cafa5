// `agentrl run --address` against a server that outlives the CLI: the first run's in-process worker has exited
// but the server still lists it as a poller for minutes, so a CLI that trusted that list started no worker and
// the second run waited forever. Each run now brings its own worker (unless --no-worker), and a run whose task
// no worker takes says so within seconds instead of waiting silently.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { generateSources, recipeFor } from '../support/balance-run.ts';
import { startTestServer, uniqueQueue, waitFor, type TestServer } from '../support/temporal.ts';

let env: TestServer;
let recipeFile: string;
const queue = uniqueQueue('cli-run');

before(async () => {
  env = await startTestServer();
  const data = generateSources();
  const recipe = recipeFor(data, mkdtempSync(join(tmpdir(), 'agentrl-cli-out-')));
  recipe.balance!.per_source = 50;
  recipeFile = join(mkdtempSync(join(tmpdir(), 'agentrl-cli-')), 'recipe.json');
  writeFileSync(recipeFile, JSON.stringify(recipe));
});

after(async () => {
  await env.close();
});

interface Cli {
  exit: Promise<number | null>;
  output: () => string;
  kill: () => void;
}

/** `agentrl <args>` in a child process, on `taskQueue`. */
function cli(taskQueue: string, ...args: string[]): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'infra/cli.ts'), ...args], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AGENTRL_TASK_QUEUE: taskQueue },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { exit: new Promise((r) => child.once('exit', (code) => r(code))), output: () => out, kill: () => child.kill('SIGKILL') };
}

async function runToEnd(runId: string): Promise<string> {
  const c = cli(queue, 'run', recipeFile, '--address', env.server.address, '--run-id', runId);
  const timer = setTimeout(c.kill, 240_000);
  const code = await c.exit;
  clearTimeout(timer);
  assert.equal(code, 0, c.output());
  return c.output();
}

test('run, leave the server up, run again with --address: the second run completes too', async () => {
  const first = await runToEnd('cli-first');
  assert.match(first, /balance: 250 rows/);
  const pollers = await env.client.workflowService.describeTaskQueue({ namespace: env.client.options.namespace, taskQueue: { name: queue }, taskQueueType: 1 });
  assert.ok((pollers.pollers?.length ?? 0) > 0, 'the exited worker is still listed as a poller (the trap this test is about)');
  const second = await runToEnd('cli-second');
  assert.match(second, /balance: 250 rows/);
  assert.equal((await env.client.workflow.getHandle('cli-second').describe()).status.name, 'COMPLETED');
});

test('with --no-worker and no live worker, the CLI says within seconds what the run waits for', async () => {
  const lonely = uniqueQueue('cli-lonely');
  const c = cli(lonely, 'run', recipeFile, '--address', env.server.address, '--run-id', 'cli-waits', '--no-worker');
  try {
    await waitFor('the waiting notice', async () => /waiting \d+s for a worker on task queue/.test(c.output()), 60_000, 200);
    assert.match(c.output(), new RegExp(`task queue "${lonely}" to take the workflow task of cli-waits; no worker has polled it recently`));
  } finally {
    c.kill();
    await env.client.workflow.getHandle('cli-waits').terminate('test over').catch(() => undefined);
  }
});
