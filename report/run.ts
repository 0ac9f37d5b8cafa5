// What a run directory holds, stage by stage: the audit record, the per-step metrics table, the trajectory
// record. Every part is optional (a run stopped after balance, a stage still running); a part that exists but
// cannot be read is an error naming its file, never silently left out.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { StageAudit } from '../schemas/stage.ts';
import { readMetrics, type MetricsTable } from './metrics.ts';
import { ReportInputError } from './table.ts';
import { findTrajectoryFiles, sampleTrajectories, type TrajectorySample } from './trajectories.ts';

/** The recipe's stage order; other directories holding an audit or metrics follow alphabetically. */
export const STAGE_ORDER = ['balance', 'sft', 'grpo'];

/** An audit as read from disk: the shared fields are expected, a stage may add its own (kept for display). */
export type AuditRecord = Partial<StageAudit> & Record<string, unknown>;

export interface StageData {
  stage: string;
  dir: string;
  audit?: AuditRecord;
  metrics?: MetricsTable;
  trajectories?: TrajectorySample;
}

export interface RunData {
  runId: string;
  runDir: string;
  stages: StageData[];
}

const METRICS_FILES = ['metrics.parquet', 'metrics.arrow'];

export function readRun(runDir: string): RunData {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new ReportInputError(`${runDir}: no such run directory`);
  const dirs = readdirSync(runDir).filter((d) => statSync(join(runDir, d)).isDirectory());
  const ordered = [...STAGE_ORDER.filter((s) => dirs.includes(s)), ...dirs.filter((d) => !STAGE_ORDER.includes(d)).sort()];
  const stages: StageData[] = [];
  for (const stage of ordered) {
    const dir = join(runDir, stage);
    const auditPath = join(dir, 'audit.json');
    const audit = existsSync(auditPath) ? readAudit(auditPath) : undefined;
    const metricsPath = METRICS_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
    const metrics = metricsPath ? readMetrics(metricsPath) : undefined;
    const trajectories = sampleTrajectories(findTrajectoryFiles(dir));
    if (audit || metrics || trajectories) stages.push({ stage, dir, audit, metrics, trajectories });
  }
  return { runId: runDir.replace(/\/+$/, '').split('/').pop()!, runDir, stages };
}

function readAudit(path: string): AuditRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ReportInputError(`${path}: not a JSON audit record (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ReportInputError(`${path}: an audit record must be a JSON object`);
  const audit = parsed as AuditRecord;
  for (const field of ['inputs', 'outputs', 'counts'] as const) {
    const v = audit[field];
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) {
      throw new ReportInputError(`${path}: field "${field}" must be an object`);
    }
  }
  return audit;
}
