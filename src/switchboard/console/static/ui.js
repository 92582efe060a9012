// Small DOM and formatting helpers shared by every page.

/** h("button", {class: "primary", onclick: fn}, "Save") -> an element; children may be
 *  strings, nodes, arrays, or null (skipped). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "for") {
      el.htmlFor = value;
    } else if (name in el && typeof value !== "string") {
      el[name] = value; // properties such as checked, disabled, value
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

let uid = 0;
/** A labelled form field: the label's `for` points at the control. */
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++uid}`;
  const parts = [h("label", {for: control.id}, label), control];
  if (hint) {
    const hintId = `${control.id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("span", {class: "hint", id: hintId}, hint));
  }
  return h("div", {class: "field"}, parts);
}

export function select(name, options, value) {
  return h("select", {name}, options.map(([v, text]) =>
    h("option", {value: v, selected: v === value}, text)));
}

export function table(headers, rows, caption) {
  return h("div", {class: "table-wrap"}, h("table", {},
    caption ? h("caption", {class: "visually-hidden"}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => {
      const [text, cls] = Array.isArray(x) ? x : [x, ""];
      return h("th", {scope: "col", class: cls || null}, text);
    }))),
    h("tbody", {}, rows)));
}

export function notice(text, kind = "") {
  return h("p", {class: `notice ${kind}`, role: kind === "error" ? "alert" : null}, text);
}

export function card(label, value, testid) {
  return h("div", {class: "card"}, h("div", {class: "label"}, label),
    h("div", {class: "value", "data-testid": testid || null}, value));
}

/** Tell screen readers about a change that happened without a page load. */
export function announce(text) {
  const live = document.getElementById("announce");
  if (live) { live.textContent = ""; setTimeout(() => { live.textContent = text; }, 50); }
}

// -- formatting -------------------------------------------------------------------------

export function usd(value) {
  const v = Number(value || 0);
  if (v === 0) return "$0";
  const abs = Math.abs(v);
  if (abs >= 1) return `$${v.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2})}`;
  if (abs >= 0.01) return `$${v.toFixed(4).replace(/0+$/, "").replace(/\.$/, "")}`;
  // small amounts keep three significant digits without exponent notation
  const digits = Math.min(12, 2 - Math.floor(Math.log10(abs)));
  return `$${v.toFixed(digits).replace(/0+$/, "")}`;
}

/** USD in at most two significant digits, for chart axes. */
export function usdTick(value) {
  const v = Number(value || 0);
  if (v === 0) return "$0";
  if (v >= 1000) return `$${compact(v)}`;
  const digits = Math.max(0, 1 - Math.floor(Math.log10(v)));
  return `$${v.toFixed(Math.min(12, digits)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "")}`;
}

/** A per-token USD price string -> USD per million tokens. */
export function perMillion(price) {
  const v = Number(price || 0) * 1e6;
  return v === 0 ? "free" : `$${Number(v.toPrecision(6))}`;
}

export function int(value) {
  return Number(value || 0).toLocaleString("en-US");
}

export function compact(value) {
  const v = Number(value || 0);
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}
