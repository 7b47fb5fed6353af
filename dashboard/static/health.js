// The health page's run filter: shows the last runs of one status. The rows are the
// page's own; only whether each is shown changes.
(function () {
  "use strict";
  const select = document.getElementById("run-status");
  const rows = Array.from(document.querySelectorAll("#runs tbody tr[data-status]"));
  const shown = document.getElementById("runs-shown");

  function render() {
    let count = 0;
    for (const row of rows) {
      row.hidden = Boolean(select.value) && row.dataset.status !== select.value;
      if (!row.hidden) count += 1;
    }
    shown.textContent = String(count);
  }

  select.addEventListener("change", render);
  render();
})();
