// Links to Airflow's own pages (a[data-ui]) open in the Airflow UI around this page. The UI
// shows the page in a sandboxed iframe that may not navigate the top window itself, so the
// link is handed to the UI's router, which is same-origin. Opened on its own, a link is a link.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-ui]");
  if (!link || window.parent === window || event.button !== 0 || event.ctrlKey ||
      event.metaKey || event.shiftKey) {
    return;
  }
  try {
    window.parent.history.pushState(null, "", link.getAttribute("href"));
    window.parent.dispatchEvent(new PopStateEvent("popstate"));
    event.preventDefault();
  } catch (error) {
    // The UI is on another origin: follow the link inside the frame instead.
  }
});
