// The next build of the app (half the visitors, the `next-app` experiment): the same routes,
// marked so the page can tell which build it runs.
document.getElementById("app").dataset.route = location.pathname;
document.getElementById("app").dataset.build = "next";
