// The posting explorer: filters the open postings embedded in the page as JSON.
// Values come from the API and are untrusted: they are set as text, never as HTML, and
// a link is made only from an http(s) URL.
(function () {
  "use strict";
  const postings = JSON.parse(document.getElementById("explorer-data").textContent);
  const form = document.getElementById("filters");
  const body = document.querySelector("#explorer tbody");
  const shown = document.getElementById("shown");
  const money = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const LIMIT = 200;

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text == null ? "" : String(text);
    if (className) td.className = className;
    return td;
  }

  function render() {
    const agency = form.agency.value;
    const state = form.state.value.trim().toLowerCase();
    const title = form.title.value.trim().toLowerCase();
    const remote = form.remote.checked;
    const matches = postings.filter((p) =>
      (!agency || p.agency === agency) &&
      (!state || (p.states || "").toLowerCase().includes(state)) &&
      (!title || (p.title || "").toLowerCase().includes(title)) &&
      (!remote || p.is_remote));
    shown.textContent = String(matches.length);
    body.replaceChildren();
    for (const p of matches.slice(0, LIMIT)) {
      const row = body.insertRow();
      const first = cell(row, "");
      if (/^https?:\/\//i.test(p.url || "")) {
        const link = document.createElement("a");
        link.href = p.url;
        link.rel = "noopener noreferrer";
        link.textContent = p.title || "(no title)";
        first.append(link);
      } else {
        first.textContent = p.title || "(no title)";
      }
      cell(row, p.agency);
      cell(row, p.grade);
      cell(row, p.states);
      cell(row, p.annual_salary_min == null ? "" : "$" + money.format(p.annual_salary_min), "num");
      cell(row, p.closes_on);
    }
    if (matches.length > LIMIT) {
      const row = body.insertRow();
      const td = cell(row, `… and ${matches.length - LIMIT} more: narrow the filters.`, "empty");
      td.colSpan = 6;
    }
  }

  form.addEventListener("input", render);
  form.addEventListener("submit", (event) => event.preventDefault());
  render();
})();
