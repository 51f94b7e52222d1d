// Counts one view of the article this page is (its slug is the file name), once per page load,
// and shows the count. A view that is not counted does not matter: nothing is shown then.
(function () {
  var match = location.pathname.match(/^\/docs\/([a-z0-9-]+)\.html$/);
  var shown = document.querySelector("[data-views]");
  if (!match) return;
  fetch("/api/view?slug=" + encodeURIComponent(match[1]), { method: "POST" })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (answer) {
      if (answer && shown) shown.textContent = answer.views + " views";
    })
    .catch(function () {});
})();
