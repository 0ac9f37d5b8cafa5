// Learning-rate schedules over optimizer steps (0-based index of the step about to run). Cosine with linear
// warm-up follows transformers' get_cosine_schedule_with_warmup (half a cycle, down to 0), which verl's SFT
// trainer uses, with verl's warm-up length: floor(warmup_ratio x total steps).

export type Schedule = { kind: 'cosine'; warmup_ratio: number } | { kind: 'constant' };

export function warmupSteps(schedule: Schedule, totalSteps: number): number {
  return schedule.kind === 'cosine' ? Math.floor(schedule.warmup_ratio * totalSteps) : 0;
}

export function lrAt(step: number, totalSteps: number, baseLr: number, schedule: Schedule): number {
  if (schedule.kind === 'constant') return baseLr;
  const warmup = warmupSteps(schedule, totalSteps);
  if (step < warmup) return (baseLr * step) / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, totalSteps - warmup);
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
