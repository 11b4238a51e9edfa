// Light or dark before the first paint: the saved choice, else the system's.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("pmle-theme"); } catch (e) {}
  if (saved === "light" || saved === "dark") {
    document.documentElement.setAttribute("data-theme", saved);
  }
})();
