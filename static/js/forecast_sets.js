// A form's forecast-set list shows only the sets that cover its series and range: each option
// carries data-symbol, data-timeframe, data-first, data-last (UTC), compared with the form's
// symbol, timeframe, start and end inputs whenever they change.
document.querySelectorAll("select[data-forecast-sets]").forEach((select) => {
  const form = select.form;
  const value = (name) => ((form.elements[name] || {}).value || "").trim();
  const norm = (s) => s.replace(/[\s/_.-]/g, "").toUpperCase();
  function filter() {
    const symbol = norm(value("symbol")), tf = value("timeframe").toLowerCase();
    const start = value("start"), end = value("end");
    for (const option of select.options) {
      if (!option.dataset.symbol) continue;  // the empty choice
      const covers = (!symbol || norm(option.dataset.symbol) === symbol)
        && (!tf || option.dataset.timeframe.toLowerCase() === tf || ({ h1: "1h", m1: "1m", d1: "1d" })[tf] === option.dataset.timeframe)
        && (!start || option.dataset.first <= start) && (!end || option.dataset.last >= end);
      option.hidden = !covers;
      if (!covers && option.selected) select.value = "";
    }
  }
  ["symbol", "timeframe", "start", "end"].forEach((n) => form.elements[n] && form.elements[n].addEventListener("input", filter));
  filter();
});
