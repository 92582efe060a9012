// One generation: its numbers, every attempt, and the stored prompt and completion.
import {api, ApiError} from "./api.js";
import {h, int, ms, notice, table, text, usd, when} from "./ui.js";

function fact(label, value, testid) {
  return h("div", {}, h("dt", {}, label), h("dd", {"data-testid": testid || null}, value));
}

function partText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p) => p.type === "text" ? p.text : `[${p.type || "part"}]`).join("\n");
  }
  return content === null || content === undefined ? "" : JSON.stringify(content, null, 2);
}

function messageView(m) {
  const extra = m.tool_calls ? `\n${JSON.stringify(m.tool_calls, null, 2)}` : "";
  return h("div", {class: "msg"}, h("div", {class: "role"}, m.role || "message"),
    h("pre", {}, partText(m.content) + extra));
}

export async function render(root, ctx) {
  const id = ctx.route.rest[0] || "";
  root.append(h("p", {}, h("a", {href: "#/activity"}, "← Activity")),
    h("h1", {}, "Generation ", h("span", {class: "mono"}, id)));
  const [gen, content] = await Promise.all([
    api("/generation", {params: {id}}),
    api("/generation/content", {params: {id}}).catch((err) => err),
  ]);
  const g = gen.data;
  const ok = g.status === 200;
  root.append(h("section", {class: "panel", "aria-labelledby": "g-facts"},
    h("h2", {id: "g-facts", class: "visually-hidden"}, "Summary"),
    h("dl", {class: "facts"},
      fact("Model", g.model, "g-model"),
      fact("Provider", text(g.provider_name), "g-provider"),
      fact("Status", h("span", {class: `badge ${ok ? "ok" : "bad"}`}, String(g.status)), "g-status"),
      fact("Created", when(g.created_at)),
      fact("Cost", usd(g.total_cost), "g-cost"),
      fact("Upstream cost", usd(g.upstream_inference_cost)),
      fact("Prompt tokens", int(g.tokens_prompt), "g-prompt-tokens"),
      fact("Completion tokens", int(g.tokens_completion), "g-completion-tokens"),
      fact("Reasoning tokens", int(g.native_tokens_reasoning)),
      fact("Cached tokens", int(g.native_tokens_cached)),
      fact("Latency (first token)", ms(g.latency)),
      fact("Generation time", ms(g.generation_time)),
      fact("Finish reason", `${text(g.finish_reason)}${g.native_finish_reason && g.native_finish_reason !== g.finish_reason ? ` (${g.native_finish_reason})` : ""}`, "g-finish"),
      fact("Streamed", g.streamed ? "yes" : "no"),
      fact("Cancelled", g.cancelled ? "yes" : "no"),
      fact("App", text(g.app_title || g.http_referer)))));

  root.append(h("h2", {}, "Attempts"));
  const attempts = g.provider_responses || [];
  root.append(attempts.length ? table(["#", "Provider", "Endpoint", ["Status", "num"], ["Latency", "num"], "Error"],
    attempts.map((a, i) => h("tr", {},
      h("td", {}, String(i + 1)), h("td", {}, text(a.provider_name || a.provider)),
      h("td", {class: "mono"}, text(a.endpoint_id)),
      h("td", {class: "num"}, h("span", {class: `badge ${a.status === 200 ? "ok" : "bad"}`}, String(a.status))),
      h("td", {class: "num"}, ms(a.latency)),
      h("td", {}, a.error_type ? `${a.error_type}${a.message ? `: ${a.message}` : ""}` : "—"))), "Attempts")
    : notice("No upstream attempt was made."));

  root.append(h("h2", {}, "Prompt and completion"));
  const box = h("section", {"data-testid": "g-content"});
  if (content instanceof ApiError) {
    box.append(notice(content.message));
  } else if (content instanceof Error) {
    throw content;
  } else {
    const input = content.data.input || {};
    const messages = input.messages || (input.prompt ? [{role: "user", content: input.prompt}] : []);
    box.append(h("h3", {}, "Prompt"), h("div", {class: "messages", "data-testid": "g-prompt"}, messages.map(messageView)),
      h("h3", {}, "Completion"), h("pre", {"data-testid": "g-completion"}, content.data.output.completion || ""));
  }
  root.append(box);
}
