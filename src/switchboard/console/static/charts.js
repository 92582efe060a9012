// Stacked bar charts drawn as inline SVG: no chart library, no network.
import {h} from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#B8A21A"];
export const OTHER_COLOUR = "#8a8f98";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * exp >= value) return step * exp;
  }
  return 10 * exp;
}

let chartId = 0;

/**
 * days: ["2026-11-03", ...]; series: [{name, colour, values: [number per day]}];
 * format: value -> label; tick: the same for the axis (default: format). Returns a figure with the chart, and the same numbers as
 * a table for screen readers.
 */
export function stackedBars({title, days, series, format, tick, testid}) {
  const id = `chart${++chartId}`;
  const W = 400, H = 190, left = 76, right = 16, top = 10, bottom = 22;
  const plotW = W - left - right, plotH = H - top - bottom;
  const totals = days.map((_, i) => series.reduce((sum, x) => sum + (x.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const y = (v) => top + plotH - (v / max) * plotH;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, slot * 0.72);

  const svg = s("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`});
  const total = totals.reduce((a, b) => a + b, 0);
  svg.append(s("title", {id: `${id}-t`}, title),
    s("desc", {id: `${id}-d`}, `${title} per day over the last ${days.length} days; total ${format(total)}.`));
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    svg.append(s("line", {class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v)}),
      s("text", {class: "axis", x: left - 6, y: y(v) + 4, "text-anchor": "end"}, (tick || format)(v)));
  }
  days.forEach((day, i) => {
    let base = 0;
    const x = left + i * slot + (slot - barW) / 2;
    for (const item of series) {
      const v = item.values[i] || 0;
      if (v <= 0) continue;
      const y0 = y(base), y1 = y(base + v);
      const rect = s("rect", {x, y: y1, width: barW, height: Math.max(0.5, y0 - y1), fill: item.colour});
      rect.append(s("title", {}, `${day} · ${item.name}: ${format(v)}`));
      svg.append(rect);
      base += v;
    }
    if (i % 5 === (days.length - 1) % 5) {
      svg.append(s("text", {class: "axis", x: left + i * slot + slot / 2, y: H - 5, "text-anchor": "middle"},
        day.slice(5)));
    }
  });

  const rows = days.map((day, i) => totals[i] ? h("tr", {}, h("th", {scope: "row"}, day),
    h("td", {}, format(totals[i]))) : null);
  return h("figure", {class: "chart", "data-testid": testid || null},
    h("h3", {}, title, " ", h("span", {class: "muted"}, `· ${format(total)}`)),
    svg,
    h("table", {class: "visually-hidden"}, h("caption", {}, `${title} per day`),
      h("tbody", {}, rows)));
}

export function legend(series, format) {
  return h("ul", {class: "legend", "aria-label": "Legend"}, series.map((x) =>
    h("li", {}, h("span", {class: "swatch", "aria-hidden": "true", "data-colour": x.colour}), x.name,
      format ? h("span", {class: "muted"}, ` ${format(x.total)}`) : null)));
}

/** Swatch colours set through the CSSOM (allowed by the page's CSP, unlike style=""). */
export function paintSwatches(root) {
  for (const el of root.querySelectorAll(".swatch[data-colour]")) el.style.background = el.dataset.colour;
}
