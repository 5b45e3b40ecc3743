/*
 * The theme before the first paint. The page's modules (theme.js among them) run only once all of them have loaded,
 * and a first paint can come before that: this classic script runs as the page is parsed, so that a light page
 * never flashes dark. It applies what theme.js would decide (its storage key, its media query); theme.js takes over.
 */
(() => {
  let choice = null;
  try {
    choice = window.localStorage.getItem("dashboard.theme");
  } catch {
    // Storage refused (a privacy setting): the system's setting decides.
  }
  const light = choice === "light" || (choice !== "dark" && window.matchMedia("(prefers-color-scheme: light)").matches);
  document.documentElement.dataset.theme = light ? "light" : "dark";
})();
