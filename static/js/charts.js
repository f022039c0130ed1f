// Render every plotly figure a page embedded with json_script.
document.querySelectorAll("[id$='-figure']").forEach((script) => {
  const target = document.getElementById(script.id === "chart-figure" ? "candles-chart" : script.id.replace(/-figure$/, ""));
  if (!target || !window.Plotly) return;
  const fig = JSON.parse(script.textContent);
  Plotly.newPlot(target, fig.data, fig.layout, { responsive: true, displaylogo: false });
});
