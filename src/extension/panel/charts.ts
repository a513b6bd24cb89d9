// Time-series charts drawn by uPlot (canvas), coloured from the VS Code theme. Canvas cannot read
// CSS variables, so colours are resolved when a chart is built, and charts are rebuilt when the
// theme changes. uPlot's own legend is off: each chart gets a small HTML legend with the values at
// the cursor (or the latest ones), which screen readers and the theme's fonts handle better.
import uPlot from 'uplot';
import { el } from './virtualgrid';

export interface ChartSeries {
  label: string;
  /** A --vscode-* colour and a fallback for when the theme does not define it. */
  color: [variable: string, fallback: string];
  scale: string;
  format(value: number): string;
  dash?: number[];
  fill?: boolean;
}

export interface ChartAxis {
  scale: string;
  format(value: number): string;
  side?: 1 | 3;
}

export interface Marker {
  /** x value (seconds). */
  x: number;
  label: string;
  kind: 'failover' | 'divergence';
}

const MARKER_COLORS: Record<Marker['kind'], [string, string]> = {
  failover: ['--vscode-charts-orange', '#d18616'],
  divergence: ['--vscode-charts-red', '#f14c4c'],
};

export function themeColor([variable, fallback]: [string, string]): string {
  return getComputedStyle(document.body).getPropertyValue(variable).trim() || fallback;
}

/** `color` with alpha, for area fills; colours that are not #rrggbb stay as they are. */
function translucent(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(color);
  return m ? `#${m[1]}${Math.round(alpha * 255).toString(16).padStart(2, '0')}` : color;
}

export class TimeChart {
  readonly element: HTMLElement;
  private readonly plotHost: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly legendValues: HTMLElement[] = [];
  private plot: uPlot | undefined;
  private data: uPlot.AlignedData;
  private markers: Marker[] = [];

  constructor(
    private readonly title: string,
    private readonly series: ChartSeries[],
    private readonly axes: ChartAxis[],
    private readonly height = 140,
  ) {
    this.data = [[], ...series.map(() => [])];
    // The class names the chart in panel.css, which colours the legend's swatches to match.
    const figure = el('figure', `chart chart-${title.toLowerCase().replace(/\W+/g, '-')}`);
    const caption = el('figcaption', 'section-title', title);
    this.plotHost = el('div', 'chart-plot');
    this.plotHost.setAttribute('role', 'img');
    this.legend = el('div', 'chart-legend');
    series.forEach((s, i) => {
      const item = el('span', 'legend-item');
      const swatch = el('span', `legend-swatch series-${i}${s.dash ? ' dashed' : ''}`);
      swatch.setAttribute('aria-hidden', 'true');
      const value = el('span', 'legend-value', '–');
      this.legendValues.push(value);
      item.append(swatch, el('span', 'legend-label', s.label), value);
      this.legend.append(item);
    });
    figure.append(caption, this.plotHost, this.legend);
    this.element = figure;
    new ResizeObserver(() => this.resize()).observe(this.plotHost);
  }

  setData(data: uPlot.AlignedData, markers: Marker[]): void {
    this.data = data;
    this.markers = markers;
    if (!this.plot) this.build();
    else this.plot.setData(data);
    this.showValues(undefined);
  }

  /** Colours come from the theme: build anew when it changes. */
  rebuild(): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.build();
  }

  private build(): void {
    const width = this.plotHost.clientWidth;
    if (width <= 0) return;
    const style = getComputedStyle(document.body);
    const foreground = style.getPropertyValue('--vscode-descriptionForeground').trim() || style.color;
    // charts.lines is VS Code's colour for a chart's grid and rules; it is half-transparent.
    const lines = style.getPropertyValue('--vscode-charts-lines').trim() || '#80808080';
    const gridColor = translucent(lines, 0.25);
    const fontFamily = style.getPropertyValue('--vscode-font-family').trim() || 'sans-serif';
    const font = `11px ${fontFamily}`;
    const axis = (a: ChartAxis, i: number): uPlot.Axis => ({
      scale: a.scale,
      side: a.side ?? 3,
      stroke: foreground,
      font,
      size: 52,
      grid: { show: i === 0, stroke: gridColor, width: 1 },
      ticks: { show: true, stroke: gridColor, width: 1, size: 4 },
      values: (_u, splits) => splits.map((v) => a.format(v)),
    });
    const options: uPlot.Options = {
      width,
      height: this.height,
      legend: { show: false },
      padding: [10, 8, 0, 0],
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 6 } },
      scales: {
        x: { time: false },
        ...Object.fromEntries(this.axes.map((a) => [a.scale, {
          auto: true,
          range: (_u: uPlot, min: number, max: number) =>
            [Math.min(0, min), max > 0 ? max * 1.05 : 1] as uPlot.Range.MinMax,
        }])),
      },
      series: [
        {},
        ...this.series.map((s): uPlot.Series => {
          const color = themeColor(s.color);
          return {
            label: s.label,
            scale: s.scale,
            stroke: color,
            width: 1.5,
            dash: s.dash,
            fill: s.fill ? translucent(color, 0.15) : undefined,
            points: { show: false },
            spanGaps: false,
          };
        }),
      ],
      axes: [
        { stroke: foreground, font, size: 30, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1, size: 4 }, values: (_u, splits) => splits.map((v) => `${+v.toFixed(1)} s`) },
        ...this.axes.map(axis),
      ],
      hooks: {
        draw: [(u) => this.drawMarkers(u, font)],
        setCursor: [(u) => this.showValues(u.cursor.idx ?? undefined)],
      },
    };
    this.plot = new uPlot(options, this.data, this.plotHost);
  }

  private resize(): void {
    const width = this.plotHost.clientWidth;
    if (width <= 0) return;
    if (!this.plot) this.build();
    else this.plot.setSize({ width, height: this.height });
  }

  private drawMarkers(u: uPlot, font: string): void {
    const ctx = u.ctx;
    const { top, height } = u.bbox;
    const ratio = devicePixelRatio || 1;
    ctx.save();
    ctx.font = font.replace(/^(\d+)px/, (_m, px) => `${Number(px) * ratio}px`);
    ctx.textBaseline = 'top';
    // Labels that would overlap go one line lower.
    const rows: [number, number][][] = [];
    const lineHeight = 13 * ratio;
    for (const marker of this.markers) {
      const x = Math.round(u.valToPos(marker.x, 'x', true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      const color = themeColor(MARKER_COLORS[marker.kind]);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = ratio;
      ctx.setLineDash([4 * ratio, 3 * ratio]);
      ctx.beginPath();
      ctx.moveTo(x + 0.5, top);
      ctx.lineTo(x + 0.5, top + height);
      ctx.stroke();
      // Labels go right of their line, or left of it near the right edge.
      const width = ctx.measureText(marker.label).width;
      const right = x + 4 * ratio + width <= u.bbox.left + u.bbox.width;
      const from = right ? x + 4 * ratio : x - 4 * ratio - width;
      let row = rows.findIndex((taken) => taken.every(([a, b]) => from + width < a || from > b));
      if (row < 0) row = rows.push([]) - 1;
      rows[row].push([from - 4 * ratio, from + width + 4 * ratio]);
      ctx.fillText(marker.label, from, top + 2 * ratio + row * lineHeight);
    }
    ctx.restore();
  }

  /** Legend values at data index `idx`, or the latest values; and the same as the figure's text. */
  private showValues(idx: number | undefined): void {
    const xs = this.data[0];
    const at = idx ?? xs.length - 1;
    const parts: string[] = [];
    this.series.forEach((s, i) => {
      const value = at >= 0 ? this.data[i + 1][at] : undefined;
      // A point may lack a series (no backup at that time): a dash says so.
      const text = value === null || value === undefined ? '–' : s.format(value);
      this.legendValues[i].textContent = text;
      parts.push(`${s.label} ${text}`);
    });
    const when = at >= 0 && xs.length ? ` at ${(+xs[at]).toFixed(1)} s` : '';
    this.plotHost.setAttribute('aria-label', `${this.title}${when}: ${parts.join(', ')}${this.markers.length ? `; ${this.markers.map((m) => m.label).join(', ')}` : ''}`);
  }
}
