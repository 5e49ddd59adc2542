// The dashboard's charts, drawn as plain SVG (no libraries): lines over the last seconds
// (lateness, rates) and bars over the coming minutes or hours (the due horizon).
// Text is only ever set with textContent.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 1200;  // the panels span the page: wide, flat charts
const HEIGHT = 160;
const LEFT = 52;
const BOTTOM = 16;

export function svg(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

function formatCount(n) {
  if (n >= 10000) return `${Math.round(n / 1000)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return String(Math.round(n * 10) / 10);
}

// Horizontal grid lines at 0, half and the peak, labelled with `label(value)`.
function grid(chart, peak, y, label) {
  for (const fraction of [0, 0.5, 1]) {
    const v = peak * fraction;
    chart.appendChild(svg('line', { class: 'grid', x1: LEFT, x2: WIDTH, y1: y(v), y2: y(v) }));
    chart.appendChild(svg('text', { x: 2, y: Math.max(10, y(v) + 3) }, label(v)));
  }
}

// Lines over a series of seconds (oldest first). `lines`: [{key, className}], values may be
// null (no point). `label` formats the y axis.
export function lineChart(chart, seconds, lines, label) {
  const peak = Math.max(label === formatMs ? 10 : 1,
    ...seconds.flatMap((s) => lines.map((l) => s[l.key] ?? 0)));
  const x = (i) => LEFT + (i * (WIDTH - LEFT - 4)) / Math.max(1, seconds.length - 1);
  const y = (v) => 4 + (HEIGHT - BOTTOM - 4) * (1 - v / peak);
  chart.replaceChildren();
  grid(chart, peak, y, label);
  chart.appendChild(svg('text', { x: LEFT, y: HEIGHT - 3 }, `-${seconds.length} s`));
  chart.appendChild(svg('text', { x: WIDTH - 30, y: HEIGHT - 3 }, 'now'));
  for (const { key, className } of lines) {
    let d = '';
    seconds.forEach((s, i) => {
      const v = s[key];
      if (v === null || v === undefined) return;
      const move = d === '' || seconds[i - 1]?.[key] === null;
      d += `${move ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    });
    if (d) chart.appendChild(svg('path', { class: className, d }));
  }
}

export function lineLabelMs(v) { return formatMs(v); }
export function lineLabelRate(v) { return `${formatCount(v)}/s`; }

// "10:42" for minute buckets, "Tue 14h" for hour buckets, in local time.
function bucketLabel(ms, bucket) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  if (bucket === 'minute') return `${two(d.getHours())}:${two(d.getMinutes())}`;
  return `${d.toLocaleDateString(undefined, { weekday: 'short' })} ${two(d.getHours())}h`;
}

// Bars, one per bucket ({start_ms, count}), each titled with its time and count.
export function barChart(chart, buckets, bucket) {
  const peak = Math.max(1, ...buckets.map((b) => b.count));
  const slot = (WIDTH - LEFT - 4) / Math.max(1, buckets.length);
  const y = (v) => 4 + (HEIGHT - BOTTOM - 4) * (1 - v / peak);
  chart.replaceChildren();
  grid(chart, peak, y, formatCount);
  const labels = Math.max(1, Math.round(buckets.length / 8));
  buckets.forEach((b, i) => {
    const x = LEFT + i * slot;
    if (b.count > 0) {
      const bar = svg('rect', {
        class: 'bar', x: (x + 0.5).toFixed(1), y: y(b.count).toFixed(1),
        width: Math.max(1, slot - 1).toFixed(1), height: (y(0) - y(b.count)).toFixed(1),
      });
      bar.dataset.start = String(b.start_ms);
      bar.dataset.count = String(b.count);
      bar.appendChild(svg('title', {}, `${bucketLabel(b.start_ms, bucket)}: ${b.count} due`));
      chart.appendChild(bar);
    }
    if (i % labels === 0) {
      chart.appendChild(svg('text', { x: x.toFixed(1), y: HEIGHT - 3 },
        bucketLabel(b.start_ms, bucket)));
    }
  });
}
