// Polls the run's progress while it is not finished, then reloads the page once to show the
// run's summary, dead letters and records. Plain fetch; no framework.
(function () {
  "use strict";
  const summary = document.getElementById("run-summary");
  if (!summary || summary.dataset.finished === "1") return;
  const bar = document.getElementById("run-progress-bar");
  const text = document.getElementById("run-progress-text");
  const status = document.querySelector("#run-status .sy-badge");
  const message = document.getElementById("run-status-message");
  let delay = 1000;

  async function poll() {
    try {
      const response = await fetch(summary.dataset.progressUrl, {headers: {"Accept": "application/json"}});
      if (response.ok) {
        const progress = await response.json();
        bar.style.width = progress.percent + "%";
        text.textContent = progress.label;
        status.textContent = progress.status.replaceAll("_", " ");
        message.textContent = progress.status_message || "";
        if (progress.finished) {
          window.location.reload();
          return;
        }
        delay = 1000;
      }
    } catch (error) {
      delay = Math.min(delay * 2, 15000);  // server restarting: back off, keep trying
    }
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, 500);
})();
