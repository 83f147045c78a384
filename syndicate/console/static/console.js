// Progressive refresh: a list marked data-refresh="N" is fetched again every N seconds and
// replaced in place. Every action works without this script (forms post and redirect).
"use strict";
document.querySelectorAll("[data-refresh]").forEach((element) => {
  const seconds = Math.max(2, Number(element.dataset.refresh) || 5);
  window.setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById(element.id);
      if (fresh) element.replaceChildren(...fresh.childNodes);
    } catch (error) {
      // The next tick tries again.
    }
  }, seconds * 1000);
});
