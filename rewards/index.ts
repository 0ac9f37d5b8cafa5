// Public API of the rewards layer (knows nothing of Temporal).
export { trajectoryReward, toolCallReward, overlongPenalty } from './trajectoryReward.ts';
export type { TrajectoryReward, TrajectoryRewardInput } from './trajectoryReward.ts';
export { mathOutcome } from './mathOutcome.ts';
export type { MathMode, MathOutcome, MathOutcomeOptions } from './mathOutcome.ts';
export { MathChecker, sharedMathChecker, verifyMath } from './math/checker.ts';
export type { MathCheckerOptions } from './math/checker.ts';
export { verifyMathSync, DEFAULT_TIMEOUT_MS } from './math/verifySync.ts';
export type { MathVerdict, VerifyOptions } from './math/verifySync.ts';
export { extractAnswer } from './math/extract.ts';
export type { ExtractedAnswer, ExtractionTarget, ExtractOptions } from './math/extract.ts';
export { strictBoxedMatch, lastBoxedInWindow, STRICT_WINDOW_CHARS } from './math/strict.ts';
export type { StrictMatch } from './math/strict.ts';
export { normalizeLatex } from './math/normalize.ts';
export { parseAnswer, describeValue } from './math/structure.ts';
export type { MathValue } from './math/structure.ts';
