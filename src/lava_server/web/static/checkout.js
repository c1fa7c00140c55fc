// Lava hosted checkout: tells the page that embeds it how the checkout ended (postMessage to the
// session's origin only), and keeps a second click from submitting a form twice. The page works
// without it; the server refuses to charge twice in any case.
(function () {
  "use strict";
  var body = document.body;
  var origin = body.getAttribute("data-origin");
  var sessionId = body.getAttribute("data-session");
  var target = window.parent !== window ? window.parent : window.opener;

  function send(message) {
    if (target && origin) {
      target.postMessage(message, origin);
    }
  }

  var event = body.getAttribute("data-event");
  if (event) {
    send(JSON.parse(event));
  }

  var cancel = document.getElementById("cancel");
  if (cancel && target) {
    cancel.hidden = false;
    cancel.addEventListener("click", function () {
      send({ type: "lava_checkout_cancel", checkoutSessionId: sessionId });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function (submitEvent) {
      if (form.getAttribute("data-submitted")) {
        submitEvent.preventDefault();
        return;
      }
      form.setAttribute("data-submitted", "1");
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("aria-busy", "true");
      }
    });
  });

  var autopay = document.getElementById("autopay");
  if (autopay) {
    var toggle = function () {
      var rows = autopay.closest("fieldset").querySelectorAll(".row input");
      Array.prototype.forEach.call(rows, function (input) {
        input.disabled = !autopay.checked;
      });
    };
    autopay.addEventListener("change", toggle);
    toggle();
  }

  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
