import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Lines } from '../lib/series.js';

const COLORS = ['#4e9af1', '#f1a14e', '#5cc98a', '#e35d6a', '#b58cf0', '#46c3c3', '#d4c14a', '#9aa5b1'];

/** A time-series chart in `el`, as wide as its box; `format` renders the y values. */
export function chart(el: HTMLElement, title: string, data: Lines, format: (v: number) => string): uPlot | undefined {
  el.replaceChildren();
  if (data.x.length === 0) {
    el.append(Object.assign(document.createElement('p'), { className: 'muted', textContent: `${title}: no data in this range` }));
    return undefined;
  }
  const width = Math.max(260, (el.clientWidth || 600) - 16);
  el.dataset.points = String(data.x.length);
  return new uPlot(
    {
      title,
      width,
      height: 200,
      scales: { x: { time: true } },
      axes: [{ stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } }, { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' }, size: 70, values: (_u, vals) => vals.map((v) => format(v)) }],
      series: [{}, ...data.lines.map((l, i) => ({ label: l.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, value: (_u: uPlot, v: number | null) => (v === null ? '–' : format(v)) }))],
    },
    [data.x, ...data.lines.map((l) => l.values)] as uPlot.AlignedData,
    el,
  );
}
