// The optimization page's trials table (#trials) pages, sorts and filters on the server. Its links
// and filter form work as plain GET requests; here they fetch the table alone (data-fragment-url)
// and swap it in, so the page's charts are not drawn again. Back and forward follow the history.
(function () {
  const box = document.getElementById("trials");
  if (!box || !box.dataset.fragmentUrl || !window.fetch) return;

  async function show(url, push) {
    const target = new URL(url, window.location.href);
    box.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(box.dataset.fragmentUrl + target.search, {
        headers: { Accept: "text/html" }, credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      box.innerHTML = await response.text();
      if (push) window.history.pushState({ trials: true }, "", target.pathname + target.search + "#trials");
    } catch (err) {
      window.location.href = target.href; // the page itself renders the same table
    } finally {
      box.removeAttribute("aria-busy");
    }
  }

  box.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-trials]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    show(link.href, true);
  });
  box.addEventListener("submit", (event) => {
    if (event.target.id !== "trials-filter") return;
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(event.target)) if (value !== "") query.append(name, value);
    show(`${window.location.pathname}?${query}`, true);
  });
  window.addEventListener("popstate", () => show(window.location.href, false));
})();
