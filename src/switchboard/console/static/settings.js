// Settings: the account's data policy and content logging (PATCH /accounts/{id}).
import {api} from "./api.js";
import {announce, field, h, notice} from "./ui.js";

export async function render(root, ctx) {
  root.append(h("h1", {}, "Settings"));
  if (ctx.session.kind === "inference") {
    root.append(notice("Account settings are changed with a provisioning key or the root key."));
    return;
  }
  const target = ctx.session.kind === "root" ? ctx.account : "me";
  const acc = (await api(`/accounts/${encodeURIComponent(target)}`)).data;
  const status = h("div", {"aria-live": "polite"});
  const radio = (value, label, hint) => h("div", {class: "choice"},
    h("input", {type: "radio", name: "data_collection", id: `dc-${value}`, value, checked: acc.data_collection === value}),
    h("label", {for: `dc-${value}`}, label, h("span", {class: "muted"}, ` — ${hint}`)));
  const store = h("input", {type: "checkbox", id: "store-content", checked: acc.logging.store_content,
    "data-testid": "store-content"});
  const days = h("input", {type: "number", min: "0", max: "3650", step: "1", value: String(acc.logging.retain_days),
    name: "retain_days", required: true});
  const source = h("p", {class: "muted", "data-testid": "logging-source"});
  const showSource = (a) => {
    source.textContent = a.logging.source === "config"
      ? "Logging follows the server's default (the config file's logging section)."
      : "Logging is set for this account.";
  };
  showSource(acc);
  const save = async (body, what) => {
    try {
      const updated = (await api(`/accounts/${encodeURIComponent(target)}`, {method: "PATCH", body})).data;
      store.checked = updated.logging.store_content;
      days.value = String(updated.logging.retain_days);
      showSource(updated);
      status.replaceChildren(notice(what, "success"));
      announce(what);
    } catch (err) {
      status.replaceChildren(notice(err.message, "error"));
    }
  };
  const form = h("form", {onsubmit: (ev) => {
    ev.preventDefault();
    const dc = form.querySelector("input[name=data_collection]:checked");
    save({data_collection: dc ? dc.value : "allow",
      logging: {store_content: store.checked, retain_days: Number(days.value)}}, "Settings saved.");
  }},
  h("fieldset", {}, h("legend", {}, "Data collection"),
    radio("allow", "Allow", "any provider may serve requests"),
    radio("deny", "Deny", "skip providers that may train on prompts; a request's own provider.data_collection still wins")),
  h("fieldset", {}, h("legend", {}, "Logging"), source,
    h("div", {class: "choice"}, store, h("label", {for: "store-content"}, "Store prompts and completions")),
    h("p", {class: "muted"}, "Off: only metadata (tokens, cost, latency) is kept for new requests."),
    field("Keep stored content for (days)", days, "Older content is deleted; 0 deletes it at the next sweep.")),
  h("div", {class: "actions"},
    h("button", {type: "submit", class: "primary"}, "Save settings"),
    h("button", {type: "button", onclick: () => save({logging: {store_content: null, retain_days: null}},
      "Logging follows the server default again.")}, "Use server default for logging")),
  status);
  root.append(h("p", {class: "muted"}, `Account ${acc.name} (${acc.id}).`), h("section", {class: "panel"}, form));
}
