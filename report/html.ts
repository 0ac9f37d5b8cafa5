// The page's building blocks: escaping, tables, and the shell with its inline style sheet. The report is one
// file that opens offline, so there are no links to scripts, fonts or style sheets.

export function esc(text: unknown): string {
  return String(text ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** A cell is text (escaped) or `{ html }` already built by the caller. */
export type Cell = string | number | boolean | null | undefined | { html: string };

function cell(c: Cell): string {
  if (c !== null && typeof c === 'object') return c.html;
  if (typeof c === 'number') return esc(formatNumber(c));
  return esc(c ?? '');
}

export function formatNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

export function table(head: string[], rows: Cell[][], cls = ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td${typeof c === 'number' ? ' class="n"' : ''}>${cell(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

export const code = (text: unknown): { html: string } => ({ html: `<code>${esc(text)}</code>` });

export function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${esc(summary)}</summary>${body}</details>`;
}

export function figure(title: string, svg: string, note?: string): string {
  return `<figure class="plot"><figcaption>${esc(title)}</figcaption>${svg}${note ? `<p class="note">${esc(note)}</p>` : ''}</figure>`;
}

const CSS = `
:root { --fg:#1d1d1f; --muted:#666; --line:#ddd; --bg:#fff; --soft:#f6f7f9; --accent:#2f6db5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 34px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 22px 0 8px; } .muted, .note { color: var(--muted); } .note { font-size: 12px; margin: 4px 0; }
nav { margin: 10px 0 0; font-size: 13px; } nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
td code { word-break: break-all; }
pre { background: var(--soft); padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
details { margin: 6px 0; } summary { cursor: pointer; color: var(--accent); }
.plots { display: flex; flex-wrap: wrap; gap: 18px; }
figure.plot { margin: 0; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
figure.plot figcaption { font-weight: 600; font-size: 13px; margin-bottom: 4px; }
figure.plot svg { display: block; max-width: 100%; height: auto; }
.absent { color: var(--muted); font-style: italic; }
.traj { border: 1px solid var(--line); border-radius: 6px; margin: 10px 0 16px; padding: 8px 12px; }
.traj-head { font-weight: 600; margin-bottom: 6px; }
.msg { border-left: 4px solid var(--accent); padding: 4px 10px; margin: 6px 0; }
.msg .who { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.msg.masked { border-left-color: #b0b0b0; background: repeating-linear-gradient(135deg, #fafafa, #fafafa 6px, #f1f1f1 6px, #f1f1f1 12px); }
.badge { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 8px; margin-left: 6px; font-weight: 500; text-transform: none; letter-spacing: 0; }
.badge.trained { background: #e2eefb; color: #1f4f86; } .badge.masked { background: #e6e6e6; color: #444; }
.badge.status { background: #fff3d6; color: #6a4b00; }
.call { border: 1px dashed #9bb7d8; padding: 4px 8px; margin: 4px 0; border-radius: 4px; }
`;

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
