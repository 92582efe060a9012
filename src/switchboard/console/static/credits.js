// Credits: balance, usage, charges (root adds them) and their history.
import {api} from "./api.js";
import {announce, card, field, h, notice, table, usd, when} from "./ui.js";

export async function render(root, ctx) {
  root.append(h("h1", {}, "Credits"));
  const isRoot = ctx.session.kind === "root";
  const params = isRoot ? {account_id: ctx.account} : {};
  const cards = h("div", {class: "cards"});
  const history = h("div", {"data-testid": "charges"});
  const refresh = async () => {
    const c = (await api("/credits", {params})).data;
    cards.replaceChildren(
      card("Balance", usd(c.total_credits - c.total_usage), "balance"),
      card("Credits bought", usd(c.total_credits), "total-credits"),
      card("Usage", usd(c.total_usage), "total-usage"));
    const rows = (await api("/credits/history", {params})).data;
    history.replaceChildren(rows.length ? table(["Date", ["Amount", "num"], "Account"], rows.map((r) =>
      h("tr", {}, h("td", {}, when(r.created_at)), h("td", {class: "num"}, usd(r.amount)), h("td", {}, r.account_id))),
    "Charges") : notice("No credits have been added yet."));
  };
  root.append(cards);
  if (isRoot) root.append(chargeForm(ctx, refresh));
  root.append(h("h2", {}, "Charges"), history);
  await refresh();
}

function chargeForm(ctx, refresh) {
  const amount = h("input", {type: "number", min: "0.01", step: "any", required: true, inputmode: "decimal",
    "data-testid": "charge-amount"});
  const status = h("div", {"aria-live": "polite"});
  return h("section", {class: "panel"}, h("h2", {}, `Add credits to ${ctx.account}`),
    h("form", {class: "grid", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("/credits/charge", {method: "POST", body: {amount: Number(amount.value), account_id: ctx.account}});
        const added = usd(amount.value);
        amount.value = "";
        await refresh();
        status.replaceChildren(notice(`Added ${added}.`, "success"));
        announce(`Added ${added} of credits.`);
      } catch (err) {
        status.replaceChildren(notice(err.message, "error"));
      }
    }}, field("Amount (USD)", amount), h("div", {class: "actions"}, h("button", {class: "primary", type: "submit"}, "Add credits"))),
    status);
}
