// The app routes in the browser: /products, /products/<sku>.
document.getElementById("app").dataset.route = location.pathname;
