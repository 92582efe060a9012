// Activity: spend, requests and tokens per day (30 days) by model, provider or app, and the
// generations list with its filters.
import {api} from "./api.js";
import {legend, OTHER_COLOUR, paintSwatches, PALETTE, stackedBars} from "./charts.js";
import {card, compact, field, h, int, ms, notice, select, table, text, usd, usdTick, when} from "./ui.js";

const DAYS = 30;
const DIMENSIONS = [["model", "Model"], ["provider", "Provider"], ["app", "App"]];

function lastDays(n) {
  const out = [];
  const today = new Date();
  for (let i = n - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i));
    out.push(d.toISOString().slice(0, 10));
  }
  return out;
}

function dimensionOf(row, dim) {
  if (dim === "provider") return row.provider_name || row.provider || "unknown";
  if (dim === "app") return row.app || "(no app)";
  return row.model;
}

/** Rows -> per-dimension series over the days, the top ones coloured, the rest as "other". */
function seriesFor(rows, days, dim, metric) {
  const index = new Map(days.map((d, i) => [d, i]));
  const byName = new Map();
  for (const row of rows) {
    const i = index.get(row.date);
    if (i === undefined) continue;
    const name = dimensionOf(row, dim);
    if (!byName.has(name)) byName.set(name, {name, values: new Array(days.length).fill(0), spend: 0});
    const item = byName.get(name);
    item.values[i] += metric(row);
    item.spend += row.usage;
  }
  const ranked = [...byName.values()].sort((a, b) => b.spend - a.spend || a.name.localeCompare(b.name));
  return ranked;
}

function colourise(ranked) {
  const top = ranked.slice(0, PALETTE.length).map((x, i) => ({...x, colour: PALETTE[i]}));
  const rest = ranked.slice(PALETTE.length);
  if (rest.length) {
    const values = rest[0].values.map((_, i) => rest.reduce((s, x) => s + x.values[i], 0));
    top.push({name: `${rest.length} other`, colour: OTHER_COLOUR, values, spend: rest.reduce((s, x) => s + x.spend, 0)});
  }
  return top;
}

function activityParams(ctx) {
  const params = {group_by: "app"};
  if (ctx.session.kind === "inference") params.key = "me";
  if (ctx.session.kind === "root") params.account_id = ctx.account;
  return params;
}

export async function render(root, ctx) {
  root.append(h("h1", {}, "Activity"));
  const rows = (await api("/activity", {params: activityParams(ctx)})).data;
  const days = lastDays(DAYS);
  const inWindow = rows.filter((r) => r.date >= days[0]);
  const spend = inWindow.reduce((s, r) => s + r.usage, 0);
  const requests = inWindow.reduce((s, r) => s + r.requests, 0);
  const tokens = inWindow.reduce((s, r) => s + r.prompt_tokens + r.completion_tokens, 0);
  const scope = {inference: "this key", provisioning: "this account", root: `account ${ctx.account}`}[ctx.session.kind];
  root.append(
    h("p", {class: "muted"}, `Last ${DAYS} days, ${scope} (UTC days).`),
    h("div", {class: "cards"}, card("Spend", usd(spend), "total-spend"), card("Requests", int(requests), "total-requests"),
      card("Tokens", int(tokens), "total-tokens")));

  const chartsBox = h("div", {});
  const dimSelect = select("dimension", DIMENSIONS, "model");
  dimSelect.setAttribute("data-testid", "breakdown");
  const draw = () => {
    const dim = dimSelect.value;
    const bySpend = colourise(seriesFor(inWindow, days, dim, (r) => r.usage));
    const colours = new Map(bySpend.map((x) => [x.name, x.colour]));
    const recolour = (ranked) => colourise(ranked).map((x) => ({...x, colour: colours.get(x.name) || OTHER_COLOUR}));
    const req = recolour(seriesFor(inWindow, days, dim, (r) => r.requests));
    const tok = recolour(seriesFor(inWindow, days, dim, (r) => r.prompt_tokens + r.completion_tokens));
    const all = seriesFor(inWindow, days, dim, (r) => r.usage);
    chartsBox.replaceChildren(
      legend(bySpend.map((x) => ({...x, total: x.spend})), usd),
      h("div", {class: "charts"},
        stackedBars({title: "Spend", days, series: bySpend, format: usd, tick: usdTick, testid: "chart-spend"}),
        stackedBars({title: "Requests", days, series: req, format: compact, testid: "chart-requests"}),
        stackedBars({title: "Tokens", days, series: tok, format: compact, testid: "chart-tokens"})),
      h("h2", {}, `By ${dim}`),
      table([DIMENSIONS.find((d) => d[0] === dim)[1], ["Requests", "num"], ["Tokens", "num"], ["Spend", "num"]],
        all.map((x) => {
          const mine = inWindow.filter((r) => dimensionOf(r, dim) === x.name);
          return h("tr", {}, h("td", {}, x.name),
            h("td", {class: "num"}, int(mine.reduce((s, r) => s + r.requests, 0))),
            h("td", {class: "num"}, int(mine.reduce((s, r) => s + r.prompt_tokens + r.completion_tokens, 0))),
            h("td", {class: "num"}, usd(x.spend)));
        }), `Usage by ${dim}`));
    paintSwatches(chartsBox);
  };
  dimSelect.addEventListener("change", draw);
  root.append(h("div", {class: "row-inline"}, h("label", {for: "dim"}, "Break down by"),
    Object.assign(dimSelect, {id: "dim"})), chartsBox);
  if (!inWindow.length) chartsBox.before(notice("No requests in the last 30 days yet."));
  draw();

  root.append(h("h2", {id: "generations"}, "Generations"));
  await generations(root, ctx, rows);
}

async function generations(root, ctx, rows) {
  const uniq = (values) => [...new Set(values.filter(Boolean))].sort();
  const opt = (values) => [["", "Any"], ...values.map((v) => [v, v])];
  const model = select("model", opt(uniq(rows.map((r) => r.model))), "");
  const provider = select("provider", opt(uniq(rows.map((r) => r.provider_name))), "");
  const app = select("app", opt(uniq(rows.map((r) => r.app))), "");
  const status = select("status", [["", "Any"], ["success", "Succeeded"], ["error", "Failed"], ["cancelled", "Cancelled"]], "");
  const from = h("input", {type: "date", name: "from"});
  const to = h("input", {type: "date", name: "to"});
  const controls = [field("Model", model), field("Provider", provider), field("App", app),
    field("Status", status), field("From (UTC)", from), field("To (UTC)", to)];
  let keySelect = null;
  if (ctx.session.kind !== "inference") {
    let keys = [];
    try {
      keys = (await api("/keys", {params: ctx.session.kind === "root" ? {account_id: ctx.account} : {}})).data;
    } catch { /* listing keys is optional here */ }
    keySelect = select("key", [["", "Any"], ...keys.map((k) => [k.hash, k.name])], "");
    controls.push(field("Key", keySelect));
  }
  const list = h("div", {"data-testid": "generations"});
  const more = h("button", {type: "button", hidden: true}, "Load more");
  let cursor = null;

  const load = async (append) => {
    const params = {limit: 25, model: model.value, provider: provider.value, app: app.value,
      status: status.value, from: from.value, to: to.value, key: keySelect ? keySelect.value : "",
      cursor: append ? cursor : ""};
    if (ctx.session.kind === "root") params.account = ctx.account;
    const page = await api("/generations", {params});
    cursor = page.next_cursor;
    more.hidden = !cursor;
    const body = append ? list.querySelector("tbody") : null;
    const trs = page.data.map(generationRow);
    if (body) body.append(...trs);
    else list.replaceChildren(page.data.length ? table(["Time", "Model", "Provider", "App", ["Tokens", "num"],
      ["Cost", "num"], ["Latency", "num"], "Status"], trs, "Generations") : notice("No generations match."));
  };
  const form = h("form", {class: "filters panel", onsubmit: (ev) => { ev.preventDefault(); load(false); }},
    controls, h("div", {class: "actions"}, h("button", {class: "primary", type: "submit"}, "Filter")));
  more.addEventListener("click", () => load(true));
  root.append(form, list, h("div", {class: "actions"}, more));
  await load(false);
}

function generationRow(g) {
  const ok = g.status === 200;
  return h("tr", {"data-id": g.id},
    h("td", {}, h("a", {href: `#/generation/${encodeURIComponent(g.id)}`, "aria-label": `Open generation ${g.id}`}, when(g.created_at))),
    h("td", {}, g.model),
    h("td", {}, text(g.provider_name)),
    h("td", {}, text(g.app_title || g.http_referer)),
    h("td", {class: "num"}, `${int(g.tokens_prompt)} → ${int(g.tokens_completion)}`),
    h("td", {class: "num", "data-testid": "cost"}, usd(g.total_cost)),
    h("td", {class: "num"}, ms(g.latency)),
    h("td", {}, h("span", {class: `badge ${ok ? "ok" : "bad"}`}, ok ? (g.cancelled ? "cancelled" : "ok") : String(g.status))));
}
