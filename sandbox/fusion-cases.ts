// Judge jobs over SandboxFusion: one /run_code request per test (as verl does at reward time). Stdin tests send the
// solution as is; the other jobs send a self-contained program made of the same Python the local sandbox uses
// (sandbox/py/harness.py + leetcode.py) plus a small driver, which reports structured results on stdout as lines
// tagged with a per-request nonce. Candidate and judge-side steps are separate requests (separate processes).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CaseJob, CaseJobOptions, CaseRun, RunResult } from './types.ts';

export type RemoteRun = (program: { code: string; stdin: string; timeoutMs: number; memoryMb: number }) => Promise<RunResult>;

const HARNESS = ['harness.py', 'leetcode.py'].map((name) => readFileSync(new URL(`./py/${name}`, import.meta.url), 'utf8')).join('\n\n');

const DRIVER = `
import json as _agentrl_json, os as _agentrl_os, sys as _agentrl_sys
_agentrl_nonce = __NONCE__
_agentrl_req = _agentrl_json.loads(__REQUEST__)


def _agentrl_report(obj):
    try:
        _agentrl_sys.stdout.flush()
    except Exception:
        pass
    data = ('\\n' + _agentrl_nonce + _agentrl_json.dumps(obj) + '\\n').encode()
    view = memoryview(data)
    while view:
        view = view[_agentrl_os.write(1, view):]


_agentrl_sys.argv = ['']
_agentrl_mode = _agentrl_req['mode']
if _agentrl_mode == 'call':
    _agentrl_code = run_call(_agentrl_req['code'], _agentrl_req['fnName'], _agentrl_req['args'], _agentrl_report)
elif _agentrl_mode == 'leetcode_call':
    _agentrl_code = run_leetcode_call(_agentrl_req['prompt'], _agentrl_req['setup'], _agentrl_req['code'], _agentrl_req['entryPoint'],
                                      _agentrl_req['calls'], _agentrl_report)
elif _agentrl_mode == 'leetcode_plan':
    _agentrl_code = leetcode_plan(_agentrl_req['test'], _agentrl_report)
elif _agentrl_mode == 'leetcode_judge':
    _agentrl_code = leetcode_judge(_agentrl_req['prompt'], _agentrl_req['setup'], _agentrl_req['checks'], _agentrl_req['results'], _agentrl_report)
else:
    _agentrl_code = run_parse(_agentrl_req['code'], _agentrl_report)
try:
    if 'threading' in _agentrl_sys.modules:
        _agentrl_sys.modules['threading']._shutdown()
except BaseException:
    pass
flush_stdio()
_agentrl_os._exit(_agentrl_code)
`;

/** A standalone Python program running one harness job; compiled under the harness file name so tracebacks hide it. */
export function harnessProgram(request: Record<string, unknown>, nonce: string): string {
  const body = `${HARNESS}\n${DRIVER.replace('__NONCE__', JSON.stringify(nonce)).replace('__REQUEST__', JSON.stringify(JSON.stringify(request)))}`;
  // JSON string syntax is a subset of Python's string literal syntax.
  return `import sys\nexec(compile(${JSON.stringify(body)}, '<agentrl-sandbox>', 'exec'))\n`;
}

function withReports(run: RunResult, nonce: string): CaseRun {
  const reports: Record<string, unknown>[] = [];
  const kept: string[] = [];
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith(nonce)) {
      try {
        reports.push(JSON.parse(line.slice(nonce.length)) as Record<string, unknown>);
        continue;
      } catch {
        // not one of ours after all
      }
    }
    kept.push(line);
  }
  return { ...run, stdout: kept.join('\n'), reports };
}

export async function runFusionCases(remote: RemoteRun, job: CaseJob, opts: CaseJobOptions): Promise<CaseRun[]> {
  const nonce = `@agentrl:${randomBytes(12).toString('hex')}:`;
  const send = async (code: string, stdin = '') =>
    withReports(await remote({ code, stdin, timeoutMs: opts.timeoutMs, memoryMb: opts.memoryMb }), nonce);
  if (job.mode === 'parse' || job.mode === 'leetcode_plan' || job.mode === 'leetcode_judge') return [await send(harnessProgram({ ...job }, nonce))];
  let programs: [string, string][];
  if (job.mode === 'stdin') programs = job.stdins.map((stdin) => [job.code, stdin]);
  else if (job.mode === 'call') programs = job.argsList.map((args) => [harnessProgram({ mode: 'call', code: job.code, fnName: job.fnName, args }, nonce), '']);
  else {
    const { cases, ...shared } = job;
    programs = cases.map((calls) => [harnessProgram({ ...shared, calls }, nonce), '']);
  }
  if (!opts.stopOnFailure) return Promise.all(programs.map(([code, stdin]) => send(code, stdin)));
  const runs: CaseRun[] = [];
  for (const [code, stdin] of programs) {
    const run = await send(code, stdin);
    runs.push(run);
    if (run.status !== 'finished') break;
  }
  return runs;
}
