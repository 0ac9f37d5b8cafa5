// A worker-thread entry for the worker-pool tests: tasks that report progress, succeed, throw an error with its
// own fields, spin until terminated, or tell which thread ran them.
import { threadId } from 'node:worker_threads';
import { serveTasks } from '../../core/worker-pool.ts';

export type TestTask =
  | { kind: 'count'; to: number }
  | { kind: 'fail'; code: string }
  | { kind: 'spin' }
  | { kind: 'thread' };

class CodedError extends Error {
  constructor(readonly code: string, readonly where: { file: string; line: number }) {
    super(`failed with ${code}`);
    this.name = 'CodedError';
  }
}

serveTasks<TestTask>(async (task, progress) => {
  switch (task.kind) {
    case 'count':
      for (let i = 1; i <= task.to; i++) progress(i);
      return task.to;
    case 'fail':
      throw new CodedError(task.code, { file: 'a.jsonl', line: 7 });
    case 'spin':
      for (;;) {
        // CPU-bound work that never yields: only terminating the thread stops it.
      }
    case 'thread':
      return threadId;
  }
});
