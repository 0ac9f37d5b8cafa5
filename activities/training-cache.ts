// The model a training stage works on, kept loaded on the worker between activities (Temporal's
// activities-dependency-injection pattern: infra/worker.ts creates one cache and the activities that use it).
// Loading a model and building its programs costs seconds to minutes, an epoch's activity only the training.
// The cache is keyed by the digest of the checkpoint the learner holds: an activity asks for a checkpoint
// reference, and gets the loaded learner only if it holds exactly that state; anything else (another run, a
// retried attempt after a failure in this process, a fresh worker) loads the checkpoint from disk, which checks
// every file against its digest. One learner at a time: users queue on a lock.
import { Learner } from '../engine/learner.ts';
import type { OptimizerConfig } from '../engine/learner.ts';
import type { Qwen3Config } from '../engine/config.ts';
import { loadTrainCheckpoint } from '../training/index.ts';
import type { CheckpointRef } from '../schemas/stage.ts';
import { canonicalJson } from '../core/canonical-json.ts';

export interface HeldModel {
  learner: Learner;
  config: Qwen3Config;
  rawConfig: Record<string, unknown>;
  /** True when this use loaded the checkpoint from disk (false: it was already held). */
  loaded: boolean;
}

interface Entry {
  digest: string;
  optimizer: string;
  learner: Learner;
  config: Qwen3Config;
  rawConfig: Record<string, unknown>;
}

export class ModelCache {
  private entry: Entry | undefined;
  private lock: Promise<void> = Promise.resolve();
  /** Loads from disk so far (tests read it to tell a cache hit from a load). */
  loads = 0;

  /**
   * Runs `work` with a learner holding the state of `ref`. `work` returns the checkpoint its learner holds when
   * it finishes (null when it cannot say, e.g. it stopped between checkpoints), which the next use can reuse.
   * A failure drops the learner: its state is unknown.
   */
  async use<T>(ref: CheckpointRef, optimizer: Partial<OptimizerConfig>, work: (held: HeldModel) => Promise<{ result: T; holds: CheckpointRef | null }>): Promise<T> {
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise((r) => (release = r));
    await previous;
    try {
      const key = canonicalJson(optimizer);
      let loaded = false;
      if (!this.entry || this.entry.digest !== ref.sha256 || this.entry.optimizer !== key) {
        await this.drop();
        const ckpt = await loadTrainCheckpoint(ref);
        const learner = await Learner.create(ckpt.config, ckpt.weights, { optimizer });
        await learner.loadState(ckpt.state);
        this.entry = { digest: ref.sha256, optimizer: key, learner, config: ckpt.config, rawConfig: ckpt.rawConfig };
        this.loads++;
        loaded = true;
      }
      const e = this.entry;
      try {
        const { result, holds } = await work({ learner: e.learner, config: e.config, rawConfig: e.rawConfig, loaded });
        if (holds) e.digest = holds.sha256;
        else await this.drop();
        return result;
      } catch (err) {
        await this.drop();
        throw err;
      }
    } finally {
      release();
    }
  }

  /** Releases the held learner (the worker's shutdown, or a failed use). */
  async drop(): Promise<void> {
    const e = this.entry;
    this.entry = undefined;
    if (e) await e.learner.close().catch(() => undefined);
  }
}
