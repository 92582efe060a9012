// Models: the catalog with search and filters, and each model's endpoints with prices (the
// markup included) and live health.
import {api} from "./api.js";
import {field, h, int, ms, notice, perMillion, select, table, text} from "./ui.js";

const CONTEXTS = [["0", "Any"], ["8000", "8K+"], ["32000", "32K+"], ["128000", "128K+"], ["200000", "200K+"], ["1000000", "1M+"]];
const PRICES = [["", "Any"], ["0.5", "≤ $0.50 / M"], ["2", "≤ $2 / M"], ["5", "≤ $5 / M"], ["15", "≤ $15 / M"]];

async function providersOf() {
  const resp = await fetch("/console/model-providers.json");
  return resp.ok ? (await resp.json()).data : {};
}

export async function render(root) {
  root.append(h("h1", {}, "Models"));
  const [models, providers, byModel] = await Promise.all([
    api("/models"), api("/providers").catch(() => ({data: []})), providersOf()]);
  const all = models.data;
  const names = new Map(providers.data.map((p) => [p.slug, p.name]));
  const search = h("input", {type: "search", name: "q", placeholder: "name or id", "data-testid": "model-search"});
  const provider = select("provider", [["", "Any"], ...[...names].sort((a, b) => a[1].localeCompare(b[1]))], "");
  const modalities = [...new Set(all.flatMap((m) => m.architecture.input_modalities || []))].sort();
  const modality = select("modality", [["", "Any"], ...modalities.map((m) => [m, m])], "");
  const context = select("context", CONTEXTS, "0");
  const price = select("price", PRICES, "");
  const params = [...new Set(all.flatMap((m) => m.supported_parameters || []))].sort();
  const param = select("parameter", [["", "Any"], ...params.map((p) => [p, p])], "");
  const free = h("input", {type: "checkbox", id: "free-only"});
  const count = h("p", {class: "muted", "aria-live": "polite"});
  const list = h("div", {});

  const apply = () => {
    const q = search.value.trim().toLowerCase();
    const maxPrice = price.value === "" ? Infinity : Number(price.value);
    const shown = all.filter((m) =>
      (!q || m.id.toLowerCase().includes(q) || (m.name || "").toLowerCase().includes(q)) &&
      (!provider.value || (byModel[m.id] || []).includes(provider.value)) &&
      (!modality.value || (m.architecture.input_modalities || []).includes(modality.value)) &&
      m.context_length >= Number(context.value) &&
      Number(m.pricing.prompt) * 1e6 <= maxPrice &&
      (!param.value || (m.supported_parameters || []).includes(param.value)) &&
      (!free.checked || (Number(m.pricing.prompt) === 0 && Number(m.pricing.completion) === 0)));
    count.textContent = `${shown.length} of ${all.length} models`;
    list.replaceChildren(shown.length ? table(["Model", ["Context", "num"], ["Input / M", "num"], ["Output / M", "num"], "Modality", "Providers"],
      shown.slice(0, 300).map((m) => h("tr", {},
        h("td", {}, h("a", {href: `#/model/${m.id}`}, m.name || m.id), h("div", {class: "muted mono"}, m.id)),
        h("td", {class: "num"}, int(m.context_length)),
        h("td", {class: "num"}, perMillion(m.pricing.prompt)),
        h("td", {class: "num"}, perMillion(m.pricing.completion)),
        h("td", {}, text(m.architecture.modality)),
        h("td", {}, (byModel[m.id] || []).map((p) => names.get(p) || p).join(", ")))), "Models")
      : notice("No model matches these filters."));
  };
  for (const el of [search, provider, modality, context, price, param, free]) {
    el.addEventListener(el === search ? "input" : "change", apply);
  }
  root.append(h("form", {class: "filters panel", role: "search", onsubmit: (ev) => ev.preventDefault()},
    field("Search", search), field("Provider", provider), field("Input modality", modality),
    field("Context", context), field("Input price", price), field("Supports", param),
    h("div", {class: "choice"}, free, h("label", {for: "free-only"}, "Free only"))),
  h("p", {class: "muted"}, "Prices are per million tokens and include the gateway's markup."),
  count, list);
  apply();
}

function health(e) {
  if (e.status === -5) return ["bad", "no credential"];
  if (e.status === -2) return ["bad", "circuit open"];
  if (e.status === -1) return ["warn", "recent failures"];
  return ["ok", "healthy"];
}

export async function renderDetail(root, ctx) {
  const id = ctx.route.rest.join("/");
  root.append(h("p", {}, h("a", {href: "#/models"}, "← Models")));
  const heading = h("h1", {}, id);
  const about = h("div", {});
  const eps = h("div", {"data-testid": "endpoints"});
  const updated = h("p", {class: "muted", "aria-live": "off"});
  root.append(heading, about, h("h2", {}, "Endpoints"),
    h("p", {class: "muted"}, "Prices per million tokens with the markup; health is live and refreshes every 10 seconds."),
    eps, updated,
    h("p", {}, h("a", {href: `#/playground?model=${encodeURIComponent(id)}`}, "Try it in the playground →")));
  const load = async () => {
    const m = (await api(`/models/${id}/endpoints`)).data;
    heading.textContent = m.name || m.id;
    about.replaceChildren(h("div", {}, h("p", {class: "mono muted"}, m.id),
      m.description ? h("p", {}, m.description) : null,
      h("p", {}, `Modality ${text(m.architecture.modality)} · tokenizer ${text(m.architecture.tokenizer)}`)));
    eps.replaceChildren(table(["Provider", "Upstream model", ["Context", "num"], ["Max output", "num"],
      ["Input / M", "num"], ["Output / M", "num"], "Health", ["Latency", "num"], ["Throughput", "num"], ["Error rate", "num"]],
    m.endpoints.map((e) => {
      const [cls, label] = health(e);
      const latency = e.latency_last_30m ? e.latency_last_30m.p50 : null;
      const tps = e.throughput_last_30m ? e.throughput_last_30m.p50 : null;
      return h("tr", {},
        h("td", {}, e.provider_name), h("td", {class: "mono"}, e.name.split(" | ").slice(1).join(" | ")),
        h("td", {class: "num"}, int(e.context_length)), h("td", {class: "num"}, text(e.max_completion_tokens)),
        h("td", {class: "num"}, perMillion(e.pricing.prompt)), h("td", {class: "num"}, perMillion(e.pricing.completion)),
        h("td", {}, h("span", {class: `badge ${cls}`}, label)),
        h("td", {class: "num"}, ms(latency)),
        h("td", {class: "num"}, tps === null ? "—" : `${Math.round(tps)} tok/s`),
        h("td", {class: "num"}, `${(100 - e.uptime_last_30m).toFixed(1)} %`));
    }), "Endpoints"));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 10000);
  ctx.onLeave(() => clearInterval(timer));
}
