// Worker-thread entry of MathChecker: runs verifyMathSync for each request. The parent terminates this thread
// when a check overruns its time-out, so a CAS call that never returns cannot hang the caller.
import { parentPort } from 'node:worker_threads';
import { verifyMathSync } from './verifySync.ts';
import type { CheckRequest, CheckResponse } from './checkerProtocol.ts';

const port = parentPort;
if (!port) throw new Error('checkerWorker.ts must run as a worker thread (use MathChecker)');

port.on('message', (req: CheckRequest) => {
  let res: CheckResponse;
  try {
    res = { id: req.id, verdict: verifyMathSync(req.gold, req.pred, req.options) };
  } catch (err) {
    res = { id: req.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(res);
});
port.postMessage({ ready: true });
