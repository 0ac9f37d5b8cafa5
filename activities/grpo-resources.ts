// What rollout activities keep loaded on a worker between activities: the chat tokenizer of the model directory,
// the sandbox (a pool of fork servers, or a SandboxFusion client) and one sampler for the checkpoint the current
// step rolls out from. A step's group activities on one worker share that sampler; a new checkpoint replaces it.
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
let policy: { sha256: string; ready: Promise<{ sampler: Sampler; policy: PolicyClient }> } | null = null;

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

/** The policy sampling from checkpoint `ref` (loaded and verified once per checkpoint per worker). */
export function policyFor(ref: CheckpointRef): Promise<PolicyClient> {
  if (!policy || policy.sha256 !== ref.sha256) {
    const previous = policy;
    const ready = (async () => {
      if (previous) await (await previous.ready.catch(() => null))?.sampler.close().catch(() => undefined);
      const ckpt = await loadTrainCheckpoint(ref);
      const sampler = await Sampler.create(ckpt.config, { weights: ckpt.weights });
      return { sampler, policy: new SamplerPolicy(sampler) };
    })();
    policy = { sha256: ref.sha256, ready };
    ready.catch(() => {
      if (policy?.ready === ready) policy = null;
    });
  }
  return policy.ready.then((p) => p.policy);
}
