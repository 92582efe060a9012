// The console shell: sign-in, navigation, the root key's account switcher, hash routing.
import {api, ApiError, identify, session} from "./api.js";
import {field, h, notice} from "./ui.js";
import * as activity from "./activity.js";
import * as generation from "./generation.js";
import * as keys from "./keys.js";
import * as credits from "./credits.js";
import * as settings from "./settings.js";
import * as models from "./models.js";
import * as playground from "./playground.js";

const PAGES = [
  {path: "activity", title: "Activity", page: activity},
  {path: "keys", title: "Keys", page: keys},
  {path: "credits", title: "Credits", page: credits},
  {path: "settings", title: "Settings", page: settings},
  {path: "models", title: "Models", page: models},
  {path: "playground", title: "Playground", page: playground},
];
const HIDDEN = [
  {path: "generation", title: "Generation", page: generation, parent: "activity"},
  {path: "model", title: "Model", page: models, parent: "models", detail: true},
];

let cleanup = null; // a page's timers stop when another page is shown

function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart] = raw.split("?");
  const [name, ...rest] = pathPart.split("/");
  return {name: name || "activity", rest: rest.map(decodeURIComponent), params: new URLSearchParams(queryPart || "")};
}

function signIn(main) {
  document.getElementById("top").hidden = true;
  const input = h("input", {type: "password", name: "key", autocomplete: "off", required: true,
    spellcheck: false, "data-testid": "signin-key"});
  const status = h("div", {"aria-live": "polite"});
  const form = h("form", {class: "panel", onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren(h("p", {class: "muted"}, "Checking the key…"));
    try {
      const who = await identify(input.value.trim());
      session.save(input.value.trim(), who);
      location.hash = "#/activity";
      render();
    } catch (err) {
      status.replaceChildren(notice(err instanceof ApiError && err.status === 401
        ? "That key was not accepted: check it and try again." : err.message, "error"));
    }
  }},
  field("API key, provisioning key or root key", input,
    "Kept in this browser tab only (sessionStorage); closing the tab signs you out."),
  h("div", {class: "actions"}, h("button", {class: "primary", type: "submit"}, "Sign in")),
  status);
  main.replaceChildren(h("section", {class: "signin"},
    h("h1", {}, "Switchboard console"),
    h("p", {class: "muted"}, "An inference key shows its own usage; a provisioning key its account; " +
      "the root key every account."),
    form));
  input.focus();
}

async function header(current) {
  const top = document.getElementById("top");
  top.hidden = false;
  const nav = h("ul", {class: "nav"}, PAGES.map((p) => h("li", {},
    h("a", {href: `#/${p.path}`, "aria-current": p.path === current ? "page" : null}, p.title))));
  const who = h("div", {class: "who"},
    h("span", {class: "badge", "data-testid": "key-kind"}, `${session.kind} key`),
    h("span", {class: "mono hide-sm"}, session.label || ""));
  if (session.kind === "root") who.prepend(await accountSwitcher());
  who.append(h("button", {type: "button", onclick: () => { session.clear(); location.hash = ""; render(); }},
    "Sign out"));
  top.replaceChildren(h("div", {class: "top-inner"},
    h("a", {class: "brand", href: "#/activity"}, "Switchboard"),
    h("nav", {"aria-label": "Console"}, nav), who));
}

async function accountSwitcher() {
  let accounts = [];
  try {
    accounts = (await api("/accounts")).data;
  } catch { /* the page itself reports errors */ }
  const sel = h("select", {"data-testid": "account-switcher", onchange: () => { session.view = sel.value; render(); }},
    accounts.map((a) => h("option", {value: a.id, selected: a.id === session.view}, a.name)));
  return h("span", {class: "row-inline"}, h("label", {for: "account-switch"}, "Account"),
    Object.assign(sel, {id: "account-switch"}));
}

export async function render() {
  const main = document.getElementById("main");
  if (cleanup) { cleanup(); cleanup = null; }
  if (!session.key) return signIn(main);
  const r = route();
  const entry = [...PAGES, ...HIDDEN].find((p) => p.path === r.name) || PAGES[0];
  await header(entry.parent || entry.path);
  document.title = `${entry.title} · Switchboard`;
  const ctx = {session, route: r, account: session.view, onLeave: (fn) => { cleanup = fn; }};
  const page = h("div", {});
  main.replaceChildren(page);
  try {
    await (entry.detail ? entry.page.renderDetail(page, ctx) : entry.page.render(page, ctx));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session.clear();
      return signIn(main);
    }
    page.append(notice(err.message, "error"));
  }
}

let lastPath = null;
window.addEventListener("hashchange", () => {
  const path = route().name;
  render().then(() => {
    // a new page takes the focus, so keyboard and screen-reader users start at its top
    if (path !== lastPath) {
      document.getElementById("main").focus({preventScroll: true});
      window.scrollTo(0, 0);
    }
    lastPath = path;
  });
});
render();
