// A worker that picks up a run started by an older worker replays the run's history on its own workflow code; if
// the code now issues other commands at a recorded point, the run stops with a nondeterminism error (a crashed or
// upgraded worker must never do that to a multi-day run). Every workflow's recorded history
// (test/fixtures/histories/, made by record.ts there: the pipeline and its balance, SFT and GRPO children) must
// replay on the current code. A change that fails here needs patched() around it, or, when in-flight runs may
// break on purpose, new recordings.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { workflowBundle } from '../../infra/worker.ts';

const DIR = join(PROJECT_ROOT, 'test/fixtures/histories');
const { History } = proto.temporal.api.history.v1;
const EventType = proto.temporal.api.enums.v1.EventType;

function read(file: string): proto.temporal.api.history.v1.History {
  return History.decode(readFileSync(join(DIR, file)));
}

test('every recorded workflow history replays on the current workflow code', async () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.binpb')).sort();
  assert.deepEqual(files, ['replay-fixture-balance.binpb', 'replay-fixture-grpo.binpb', 'replay-fixture-sft.binpb', 'replay-fixture.binpb']);
  const bundle = await workflowBundle();
  for (const file of files) {
    const history = read(file);
    assert.equal(history.events.at(-1)!.eventType, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, `${file}: a completed run`);
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, file.replace(/\.binpb$/u, ''));
  }
});

test('the replay check fails on a history the workflow code would not have written', async () => {
  // The GRPO history with its first activity's type changed: as if the stage's first step had been another one.
  const history = read('replay-fixture-grpo.binpb');
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes)!;
  scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'grpoSomethingElse';
  await assert.rejects(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'altered'), /nondetermin/i);
});
