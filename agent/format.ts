// A trajectory record as text people read (`agentrl trajectories <run-id> --step N`): who, how it ended, the reward
// components, then each turn's generated text, the call it made and what the tool answered.
import type { TrajectoryRecord } from '../schemas/trajectory.ts';

const num = (x: number | null) => (x === null ? '-' : String(Math.round(x * 1e6) / 1e6));

function indent(text: string, by = '    '): string {
  return text.split('\n').map((l) => by + l).join('\n');
}

export function formatTrajectory(r: TrajectoryRecord): string {
  const lines = [
    `=== ${r.promptUid} #${r.sampleIndex} (${r.dataSource}, ${r.ability}${r.validation ? ', validation' : ''}) step ${r.step}`,
    `finish ${r.finishReason}; ${r.numTurns} turn(s), ${r.toolRounds} executed tool round(s), ${r.malformedCalls} malformed call(s); ${r.responseLength} response tokens`,
    `outcome ${num(r.outcome)}${r.outcomeCorrect === null ? '' : r.outcomeCorrect ? ' (correct)' : ' (not correct)'}  tcr ${num(r.tcr)}  overlong ${num(r.overlong)}  reward ${num(r.reward)}  advantage ${num(r.advantage)}`,
  ];
  if (r.outcomeDetail) lines.push(`detail ${r.outcomeDetail}`);
  r.turns.forEach((t, i) => {
    lines.push(`--- turn ${i + 1} (${t.generatedTokens} generated tokens; ${t.parseStatus})`);
    lines.push(indent(t.text));
    if (t.toolInput !== null) lines.push(`  code_interpreter (${t.toolStatus}, ${t.toolTimeMs === null ? '-' : Math.round(t.toolTimeMs)} ms${t.toolAttempts > 1 ? `, ${t.toolAttempts} attempts` : ''}):`, indent(t.toolInput));
    else if (t.toolStatus) lines.push(`  tool: ${t.toolStatus}`);
    t.toolOutput.forEach((o) => lines.push('  tool output:', indent(o)));
  });
  return lines.join('\n');
}
