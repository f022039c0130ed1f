// Render every plotly figure a page embedded with json_script. A figure inside a
// <details data-render="on-open"> is drawn when that is first opened: WebGL and 3-D charts of
// thousands of points take seconds, so a page draws them on demand.
window.ForexGPT = window.ForexGPT || {};
ForexGPT.drawFigure = function (script) {
  const target = document.getElementById(script.id === "chart-figure" ? "candles-chart" : script.id.replace(/-figure$/, ""));
  // dataset.plotted, not .drawn: the candles chart's data-drawn already holds its candle count
  if (!target || !window.Plotly || target.dataset.plotted) return;
  target.dataset.plotted = "true";
  const fig = JSON.parse(script.textContent);
  Plotly.newPlot(target, fig.data, fig.layout, { responsive: true, displaylogo: false });
};
document.querySelectorAll("script[id$='-figure']").forEach((script) => {
  const onOpen = script.closest("details[data-render='on-open']");
  if (!onOpen || onOpen.open) {
    ForexGPT.drawFigure(script);
    return;
  }
  onOpen.addEventListener("toggle", () => onOpen.open && ForexGPT.drawFigure(script));
});
