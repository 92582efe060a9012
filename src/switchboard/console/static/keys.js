// Keys: create (shown once, with a copy button), limit and reset, disable/enable, delete,
// and what each key has spent.
import {api} from "./api.js";
import {announce, card, field, h, notice, select, table, usd, when} from "./ui.js";

const RESETS = [["", "Never"], ["daily", "Daily"], ["weekly", "Weekly"], ["monthly", "Monthly"]];

export async function render(root, ctx) {
  root.append(h("h1", {}, "Keys"));
  if (ctx.session.kind === "inference") return ownKey(root);
  const status = h("div", {"aria-live": "polite"});
  const list = h("div", {"data-testid": "keys"});
  const params = ctx.session.kind === "root" ? {account_id: ctx.account} : {};
  const refresh = async () => {
    const keys = (await api("/keys", {params})).data;
    list.replaceChildren(keys.length ? table(["Name", "Key", "Status", ["Usage", "num"], ["Today", "num"],
      ["This month", "num"], "Limit", "Actions"], keys.map((k) => keyRow(k, refresh, status)), "API keys")
      : notice("No keys yet."));
  };
  root.append(createForm(ctx, refresh, status), status, h("h2", {}, "All keys"), list);
  await refresh();
}

async function ownKey(root) {
  const k = (await api("/auth/key")).data;
  root.append(
    h("p", {class: "muted"}, "Signed in with an inference key: it can run requests and see its own usage. " +
      "Creating and changing keys needs a provisioning key."),
    h("div", {class: "cards"}, card("Key", k.label), card("Usage", usd(k.usage)), card("Today", usd(k.usage_daily)),
      card("This month", usd(k.usage_monthly)),
      card("Limit", k.limit === null ? "none" : `${usd(k.limit_remaining)} left of ${usd(k.limit)}${k.limit_reset ? ` (${k.limit_reset})` : ""}`)));
}

function createForm(ctx, refresh, status) {
  const name = h("input", {name: "name", required: true, autocomplete: "off", "data-testid": "new-key-name"});
  const limit = h("input", {name: "limit", type: "number", min: "0", step: "any", inputmode: "decimal"});
  const reset = select("limit_reset", RESETS, "");
  const shown = h("div", {});
  const form = h("form", {class: "grid", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = {name: name.value.trim()};
    if (limit.value !== "") body.limit = Number(limit.value);
    if (reset.value) body.limit_reset = reset.value;
    if (ctx.session.kind === "root") body.account_id = ctx.account;
    try {
      const made = await api("/keys", {method: "POST", body});
      shown.replaceChildren(newKeyBox(made.key, made.data.name));
      form.reset();
      await refresh();
    } catch (err) {
      status.replaceChildren(notice(err.message, "error"));
    }
  }},
  field("Name", name), field("Credit limit (USD)", limit, "Empty: no limit."), field("Limit resets", reset),
  h("div", {class: "actions"}, h("button", {class: "primary", type: "submit"}, "Create key")));
  return h("section", {class: "panel"}, h("h2", {}, "Create a key"), form, shown);
}

function newKeyBox(key, name) {
  const input = h("input", {readonly: true, value: key, "data-testid": "new-key", "aria-label": `New key ${name}`});
  const copied = h("span", {"aria-live": "polite", class: "muted"});
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(key);
    } catch {
      input.select(); // no clipboard permission (plain http): leave it selected to copy by hand
    }
    copied.textContent = "Copied.";
  };
  announce(`Key ${name} created. Copy it now: it will not be shown again.`);
  return h("div", {class: "notice success", role: "status"},
    h("p", {}, h("strong", {}, `Key “${name}” created. `), "Copy it now: it is shown only once."),
    h("div", {class: "secret"}, input, h("button", {type: "button", onclick: copy}, "Copy"), copied));
}

function keyRow(k, refresh, status) {
  const act = async (what, fn) => {
    try {
      await fn();
      announce(what);
      await refresh();
    } catch (err) {
      status.replaceChildren(notice(err.message, "error"));
    }
  };
  const toggle = h("button", {type: "button", onclick: () => act(
    `Key ${k.name} ${k.disabled ? "enabled" : "disabled"}.`,
    () => api(`/keys/${k.hash}`, {method: "PATCH", body: {disabled: !k.disabled}}))},
  k.disabled ? "Enable" : "Disable");
  const del = h("button", {type: "button", class: "danger"}, "Delete");
  del.addEventListener("click", () => {
    if (del.dataset.armed) {
      act(`Key ${k.name} deleted.`, () => api(`/keys/${k.hash}`, {method: "DELETE"}));
    } else {
      del.dataset.armed = "1"; // a second press confirms: no modal dialog to trap the focus
      del.textContent = "Confirm delete";
    }
  });
  const editBox = h("div", {});
  const edit = h("button", {type: "button", "aria-expanded": "false", onclick: () => {
    const open = edit.getAttribute("aria-expanded") === "true";
    edit.setAttribute("aria-expanded", String(!open));
    editBox.replaceChildren(open ? "" : limitForm(k, act));
  }}, "Limit…");
  const limit = k.limit === null ? "none"
    : `${usd(k.limit_remaining)} left of ${usd(k.limit)}${k.limit_reset ? `, resets ${k.limit_reset}` : ""}`;
  return h("tr", {"data-key": k.name},
    h("td", {}, k.name), h("td", {class: "mono"}, k.label),
    h("td", {}, h("span", {class: `badge ${k.disabled ? "bad" : "ok"}`}, k.disabled ? "disabled" : "active")),
    h("td", {class: "num"}, usd(k.usage)), h("td", {class: "num"}, usd(k.usage_daily)),
    h("td", {class: "num"}, usd(k.usage_monthly)),
    h("td", {}, limit, h("div", {class: "muted"}, `created ${when(k.created_at)}`)),
    h("td", {}, h("div", {class: "actions"}, edit, toggle, del), editBox));
}

function limitForm(k, act) {
  const limit = h("input", {type: "number", min: "0", step: "any", value: k.limit === null ? "" : String(k.limit)});
  const reset = select("limit_reset", RESETS, k.limit_reset || "");
  return h("form", {class: "row-inline", onsubmit: (ev) => {
    ev.preventDefault();
    act(`Limit of ${k.name} saved.`, () => api(`/keys/${k.hash}`, {method: "PATCH",
      body: {limit: limit.value === "" ? null : Number(limit.value), limit_reset: reset.value || null}}));
  }}, field(`Limit for ${k.name} (USD)`, limit, "Empty: no limit."), field("Resets", reset),
  h("button", {type: "submit", class: "primary"}, "Save"));
}
