// Playground: one streamed chat request with a model (or a fallback list) and provider
// preferences; shows who served it, the tokens, the cost and the latency.
import {api, session} from "./api.js";
import {field, h, int, ms, notice, select, text, usd} from "./ui.js";

const list = (value) => value.split(",").map((x) => x.trim()).filter(Boolean);

export async function render(root, ctx) {
  root.append(h("h1", {}, "Playground"));
  const models = await api("/models").then((r) => r.data).catch(() => []);
  const ids = models.map((m) => m.id);
  const datalist = h("datalist", {id: "model-ids"}, ids.map((id) => h("option", {value: id})));
  const wanted = ctx.route.params.get("model") || sessionStorage.getItem("sb.playmodel") || ids[0] || "";

  const keyBox = h("div", {});
  let keyInput = null;
  if (ctx.session.kind !== "inference") {
    keyInput = h("input", {type: "password", autocomplete: "off", value: session.playKey || "", "data-testid": "play-key"});
    keyBox.append(field("Inference API key", keyInput,
      `A ${ctx.session.kind} key cannot run completions: paste an inference key (kept in this tab only).`));
  }
  const model = h("input", {list: "model-ids", value: wanted, required: true, autocomplete: "off", "data-testid": "play-model"});
  const fallbacks = h("input", {placeholder: "vendor/model, vendor/other", autocomplete: "off"});
  const order = h("input", {placeholder: "provider slugs, e.g. anthropic, openai", autocomplete: "off"});
  const sort = select("sort", [["", "Default (healthy, cheap)"], ["price", "Price"], ["throughput", "Throughput"], ["latency", "Latency"]], "");
  const dc = select("data_collection", [["", "Account default"], ["allow", "Allow"], ["deny", "Deny"]], "");
  const allowFallbacks = h("input", {type: "checkbox", id: "allow-fallbacks", checked: true});
  const system = h("textarea", {rows: 2});
  const prompt = h("textarea", {rows: 4, required: true, "data-testid": "play-prompt"});
  const maxTokens = h("input", {type: "number", min: "1", step: "1", value: "512"});
  const temperature = h("input", {type: "number", min: "0", max: "2", step: "0.1", placeholder: "default"});
  const send = h("button", {type: "submit", class: "primary", "data-testid": "play-send"}, "Send");
  const stop = h("button", {type: "button", disabled: true}, "Stop");

  const output = h("pre", {class: "output", "data-testid": "play-output", "aria-live": "off"});
  const stats = h("dl", {class: "facts", "data-testid": "play-stats"});
  const status = h("div", {"aria-live": "polite"});
  let controller = null;
  stop.addEventListener("click", () => controller && controller.abort());

  const form = h("form", {onsubmit: async (ev) => {
    ev.preventDefault();
    const key = keyInput ? keyInput.value.trim() : session.key;
    if (keyInput) session.playKey = key;
    sessionStorage.setItem("sb.playmodel", model.value.trim());
    const messages = [];
    if (system.value.trim()) messages.push({role: "system", content: system.value});
    messages.push({role: "user", content: prompt.value});
    const body = {model: model.value.trim(), messages, stream: true};
    if (list(fallbacks.value).length) body.models = list(fallbacks.value);
    if (maxTokens.value) body.max_tokens = Number(maxTokens.value);
    if (temperature.value !== "") body.temperature = Number(temperature.value);
    const provider = {};
    if (list(order.value).length) provider.order = list(order.value);
    if (sort.value) provider.sort = sort.value;
    if (dc.value) provider.data_collection = dc.value;
    if (!allowFallbacks.checked) provider.allow_fallbacks = false;
    if (Object.keys(provider).length) body.provider = provider;
    controller = new AbortController();
    send.disabled = true; stop.disabled = false;
    output.textContent = ""; stats.replaceChildren(); status.replaceChildren(h("p", {class: "muted"}, "Waiting for the first token…"));
    output.setAttribute("aria-busy", "true");
    try {
      await run(key, body, controller.signal, output, stats, status);
    } catch (err) {
      status.replaceChildren(notice(err.name === "AbortError" ? "Stopped." : err.message, err.name === "AbortError" ? "" : "error"));
    } finally {
      send.disabled = false; stop.disabled = true; output.removeAttribute("aria-busy");
    }
  }},
  keyBox, datalist,
  field("Model", model), field("Fallback models", fallbacks, "Comma-separated; tried in order after the model."),
  h("fieldset", {}, h("legend", {}, "Provider preferences"),
    field("Order", order), field("Sort", sort), field("Data collection", dc),
    h("div", {class: "choice"}, allowFallbacks, h("label", {for: "allow-fallbacks"}, "Allow fallbacks to other providers"))),
  field("System prompt", system), field("Message", prompt),
  h("div", {class: "row-inline"}, field("Max tokens", maxTokens), field("Temperature", temperature)),
  h("div", {class: "actions"}, send, stop));

  root.append(h("div", {class: "split"},
    h("section", {class: "panel", "aria-label": "Request"}, form),
    h("section", {"aria-label": "Answer"}, h("h2", {}, "Answer"), status, output, h("h2", {}, "Details"), stats)));
}

async function run(key, body, signal, output, stats, status) {
  const started = performance.now();
  const resp = await fetch("/api/v1/chat/completions", {method: "POST", signal,
    headers: {"Authorization": `Bearer ${key}`, "Content-Type": "application/json", "X-Title": "Switchboard playground"},
    body: JSON.stringify(body)});
  if (!resp.ok) {
    const data = await resp.json().catch(() => null);
    throw new Error(data && data.error ? `${resp.status}: ${data.error.message}` : `HTTP ${resp.status}`);
  }
  const info = {provider: resp.headers.get("openrouter-provider"), model: resp.headers.get("openrouter-model"),
    id: resp.headers.get("x-generation-id"), usage: null, finish: null, first: null, error: null};
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue; // ": OPENROUTER PROCESSING" keep-alives
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) { info.error = chunk.error.message; continue; }
        info.provider = chunk.provider || info.provider;
        info.model = chunk.model || info.model;
        info.id = chunk.id || info.id;
        if (chunk.usage) info.usage = chunk.usage;
        for (const choice of chunk.choices || []) {
          const piece = choice.delta && choice.delta.content;
          if (piece) {
            if (info.first === null) { info.first = performance.now() - started; status.replaceChildren(); }
            output.textContent += piece;
          }
          if (choice.finish_reason) info.finish = choice.finish_reason;
        }
      }
    }
  }
  const total = performance.now() - started;
  if (info.error) status.replaceChildren(notice(`The stream ended with an error: ${info.error}`, "error"));
  else status.replaceChildren(notice("Done.", "success"));
  const u = info.usage || {};
  const fact = (label, value, testid) => h("div", {}, h("dt", {}, label), h("dd", {"data-testid": testid}, value));
  stats.replaceChildren(
    fact("Provider", text(info.provider), "play-provider"), fact("Model", text(info.model), "play-model-used"),
    fact("Prompt tokens", int(u.prompt_tokens), "play-prompt-tokens"),
    fact("Completion tokens", int(u.completion_tokens), "play-completion-tokens"),
    fact("Cost", usd(u.cost), "play-cost"), fact("First token", ms(info.first), "play-ttft"),
    fact("Total time", ms(total), "play-latency"), fact("Finish reason", text(info.finish), "play-finish"),
    fact("Generation", info.id ? h("a", {href: `#/generation/${encodeURIComponent(info.id)}`}, info.id) : "—", "play-id"));
}
