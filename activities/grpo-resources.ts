// What rollout activities keep loaded on a worker between activities: the chat tokenizer of the model directory,
// the sandbox (a pool of fork servers, or a SandboxFusion client) and a sampler per checkpoint being rolled out
// from. A step's group activities on one worker share that sampler. A worker may serve several runs (or a run's
// step and a late retry of the previous one) at once, so a sampler is closed only once no rollout uses it and a
// newer checkpoint has been asked for: closing it under a running rollout failed that rollout ("sampler: closed").
import { canonicalJson } from '../core/canonical-json.ts';
import { loadChatModel } from '../chat/index.ts';
import type { ChatTokenizer } from '../chat/index.ts';
import { Sampler } from '../engine/sampler.ts';
import { SamplerPolicy, ToolRunner } from '../agent/index.ts';
import type { PolicyClient } from '../agent/index.ts';
import { createLocalSandbox, createSandboxFusion } from '../sandbox/index.ts';
import type { CaseRunner, Sandbox } from '../sandbox/index.ts';
import { loadTrainCheckpoint } from '../training/index.ts';
import type { CheckpointRef } from '../schemas/stage.ts';
import type { GrpoSection } from '../schemas/grpo.ts';

const tokenizers = new Map<string, ChatTokenizer>();
const sandboxes = new Map<string, Sandbox & CaseRunner>();
interface HeldPolicy {
  ready: Promise<{ sampler: Sampler; policy: PolicyClient }>;
  users: number;
}
const policies = new Map<string, HeldPolicy>();
let latestPolicy: string | undefined;

export function tokenizerFor(modelDir: string): ChatTokenizer {
  let tok = tokenizers.get(modelDir);
  if (!tok) tokenizers.set(modelDir, (tok = loadChatModel(modelDir)));
  return tok;
}

export function sandboxFor(tool: GrpoSection['tool']): Sandbox & CaseRunner {
  const key = tool.backend === 'local' ? 'local' : `fusion:${tool.url}`;
  let s = sandboxes.get(key);
  if (!s) {
    s = tool.backend === 'local' ? createLocalSandbox({}) : createSandboxFusion({ baseUrl: tool.url!, concurrency: tool.concurrency });
    sandboxes.set(key, s);
  }
  return s;
}

const toolRunners = new Map<string, ToolRunner>();

/** One runner per tool setting on this worker, so `tool.concurrency` bounds the calls of all its rollouts. */
export function toolRunnerFor(tool: GrpoSection['tool']): ToolRunner {
  const key = canonicalJson(tool);
  const cached = toolRunners.get(key);
  if (cached) return cached;
  const runner = new ToolRunner({ sandbox: sandboxFor(tool), concurrency: tool.concurrency, timeoutMs: tool.timeout_s * 1000, memoryMb: tool.memory_mb, outputChars: tool.output_chars, truncateSide: tool.truncate });
  toolRunners.set(key, runner);
  return runner;
}

/** Closes the samplers no rollout uses, except the one of the checkpoint asked for last (the next rollouts'). */
function closeIdlePolicies(): void {
  for (const [sha256, held] of policies) {
    if (sha256 === latestPolicy || held.users > 0) continue;
    policies.delete(sha256);
    held.ready.then((p) => p.sampler.close()).catch(() => undefined);
  }
}

/** Runs `work` with the policy sampling from checkpoint `ref` (loaded and verified once per checkpoint per worker). */
export async function withPolicy<T>(ref: CheckpointRef, work: (policy: PolicyClient) => Promise<T>): Promise<T> {
  latestPolicy = ref.sha256;
  let held = policies.get(ref.sha256);
  if (!held) {
    const ready = (async () => {
      const ckpt = await loadTrainCheckpoint(ref);
      const sampler = await Sampler.create(ckpt.config, { weights: ckpt.weights });
      return { sampler, policy: new SamplerPolicy(sampler) as PolicyClient };
    })();
    const entry: HeldPolicy = { ready, users: 0 };
    policies.set(ref.sha256, entry);
    ready.catch(() => {
      if (policies.get(ref.sha256) === entry) policies.delete(ref.sha256);
    });
    held = entry;
  }
  held.users++;
  closeIdlePolicies(); // before this one loads: an older sampler no one uses is freed first
  try {
    return await work((await held.ready).policy);
  } finally {
    held.users--;
    closeIdlePolicies();
  }
}

/** Samplers held on this worker (tests read it to check that idle ones are freed). */
export function heldPolicies(): number {
  return policies.size;
}

/**
 * Closes what rollouts keep loaded on this worker: the sandboxes (their fork servers are child processes), the tool
 * runners and the samplers (their device threads). The worker calls it when it stops, so that a process running
 * an in-process worker can exit; a rollout after it opens them again.
 */
export async function closeRolloutResources(): Promise<void> {
  const open = [...sandboxes.values()];
  const held = [...policies.values()];
  sandboxes.clear();
  toolRunners.clear();
  policies.clear();
  latestPolicy = undefined;
  await Promise.all([
    ...open.map((s) => s.close().catch(() => undefined)),
    ...held.map((h) => h.ready.then((p) => p.sampler.close()).catch(() => undefined)),
  ]);
}
