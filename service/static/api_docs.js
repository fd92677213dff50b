// Starts the vendored Swagger UI on /schema (templates/api_docs.html): a file of its own, so the page needs
// no inline script under the CSP. The document's URL comes from the page's data-spec-url.
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // never ask an online validator: the page talks to this service only
    displayRequestDuration: true,
    persistAuthorization: false, // the API key is not kept in localStorage
  });
})();
