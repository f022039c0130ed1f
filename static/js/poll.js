// Poll a small JSON endpoint for a job's progress: every 2 s while it changes, backing off to
// 10 s while nothing moves, and stopping once the job is finished.
window.ForexGPT = window.ForexGPT || {};
ForexGPT.pollJob = function (url, onUpdate, opts) {
  opts = Object.assign({ fast: 2000, slow: 10000, factor: 1.5 }, opts || {});
  const done = ["succeeded", "failed", "cancelled"];
  let delay = opts.fast, last = null;
  async function tick() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const job = await response.json();
        const key = JSON.stringify([job.status, job.progress, job.message]);
        delay = key === last ? Math.min(delay * opts.factor, opts.slow) : opts.fast;
        last = key;
        onUpdate(job);
        if (done.includes(job.status)) return;
      } else {
        delay = opts.slow;
      }
    } catch (err) {
      delay = opts.slow;
    }
    setTimeout(tick, delay);
  }
  setTimeout(tick, opts.fast);
};

// The job box every run page shows (#job with data-status-url and data-status, holding #job-status,
// #job-progress and #job-message): status, progress bar and message follow
// the run's API row; the page reloads once the run ends, to show its results. `extra(job)` may
// update more of the page on each poll.
ForexGPT.watchJob = function (boxId, extra) {
  const box = document.getElementById(boxId || "job");
  if (!box || ["succeeded", "failed", "cancelled"].includes(box.dataset.status)) return;
  ForexGPT.pollJob(box.dataset.statusUrl, (job) => {
    const status = document.getElementById("job-status");
    status.textContent = job.status;
    status.className = "status " + job.status;
    document.getElementById("job-progress").style.width = Math.round(job.progress * 100) + "%";
    document.getElementById("job-message").textContent = job.message;
    if (extra) extra(job);
    if (["succeeded", "failed", "cancelled"].includes(job.status)) window.location.reload();
  });
};
