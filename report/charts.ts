// Every plot of the report is a Vega-Lite spec compiled by vega-lite and rendered to SVG by vega in Node (no
// canvas, no browser), so the page needs no script to show it. Data is inlined in the spec; nothing is loaded.
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { MetricSection } from './metrics.ts';

const WIDTH = 420;
const HEIGHT = 190;
const FACET_WIDTH = 230;
const FACET_HEIGHT = 110;

const CONFIG = {
  font: 'system-ui, sans-serif',
  axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 10, labelLimit: 320, orient: 'bottom', direction: 'vertical' },
  header: { labelFontSize: 11, labelLimit: 300 },
  view: { stroke: '#ddd' },
};

/** Renders one Vega-Lite spec to an SVG string. `idPrefix` keeps element ids unique among the page's SVGs. */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const { spec: vg } = compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec);
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    return uniqueIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}

/**
 * vega numbers clip paths and gradients with a counter that lives for the whole process, so the same chart
 * could get different ids depending on what was drawn before it, and two inline SVGs could collide. Renaming
 * every id to `<prefix>-<n>` in order of appearance makes the markup depend on the chart alone.
 */
function uniqueIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!ids.has(m[1])) ids.set(m[1], `${prefix}-${ids.size + 1}`);
  if (ids.size === 0) return svg;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_, a, id, b) => `${a}${ids.get(id) ?? id}${b}`)
    .replace(/url\(#([^)]+)\)/g, (all, id) => (ids.has(id) ? `url(#${ids.get(id)})` : all))
    .replace(/(href=")#([^"]+)(")/g, (all, a, id, b) => (ids.has(id) ? `${a}#${ids.get(id)}${b}` : all));
}

/** A metric section as a line chart: one chart with a line per column, or small multiples with own y scales. */
export function metricSpec(section: MetricSection, stepLabel: string): TopLevelSpec {
  const values = section.series.flatMap((s) => s.points.map((p) => ({ step: p.step, metric: s.name, value: p.value })));
  const few = Math.max(...section.series.map((s) => s.points.length)) <= 60;
  const mark = { type: 'line' as const, point: few ? { size: 18 } : false, strokeWidth: 1.6 };
  const x = { field: 'step', type: 'quantitative' as const, title: stepLabel, axis: { tickMinStep: 1 } };
  const y = { field: 'value', type: 'quantitative' as const, title: null, scale: { zero: false } };
  if (section.layout === 'facet' && section.series.length > 1) {
    return {
      data: { values },
      facet: { field: 'metric', type: 'nominal', title: null, sort: section.series.map((s) => s.name) },
      columns: 3,
      spec: { width: FACET_WIDTH, height: FACET_HEIGHT, mark, encoding: { x, y } },
      resolve: { scale: { y: 'independent' } },
    } as TopLevelSpec;
  }
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark,
    encoding: {
      x,
      y: { ...y, title: section.series.length === 1 ? section.series[0].name : null },
      color: {
        field: 'metric',
        type: 'nominal',
        title: null,
        sort: section.series.map((s) => s.name),
        // One line needs no legend: the figure's caption and the y values say what it is.
        legend: section.series.length > 1 ? {} : null,
      },
    },
  } as TopLevelSpec;
}

/** Balance: sampled rows and every reason a row was dropped, per source, as stacked bars. */
export function balanceSpec(rows: { source: string; outcome: string; rows: number }[]): TopLevelSpec {
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'source', type: 'nominal', title: null, sort: null },
      x: { field: 'rows', type: 'quantitative', title: 'rows read', stack: 'zero' },
      color: { field: 'outcome', type: 'nominal', title: null, sort: null, scale: { scheme: 'tableau20' }, legend: { orient: 'right', direction: 'vertical' } },
      order: { field: 'rank', type: 'quantitative' },
    },
  } as TopLevelSpec;
}
