// A live checkout's payment step: Stripe.js's Payment Element collects the card (it never
// reaches our server) and confirms the PaymentIntent, 3-D Secure included. Once Stripe says the
// payment succeeded, the page goes to its return URL, where the server reads the PaymentIntent
// from Stripe and completes the session (the webhook may have done so already).
(function () {
  "use strict";
  var form = document.getElementById("stripe-form");
  if (!form || typeof window.Stripe !== "function") {
    return;
  }
  var stripe = window.Stripe(form.dataset.key);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");
  var message = document.getElementById("stripe-error");
  message.setAttribute("tabindex", "-1");
  var button = document.getElementById("pay");
  var returnUrl = form.dataset.returnUrl;

  function fail(text) {
    message.textContent = text || "The payment failed. Nothing was charged; try another card.";
    message.hidden = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
    form.removeAttribute("data-submitted"); // checkout.js's double-submit guard: try again
    message.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.hidden = true;
    stripe
      .confirmPayment({
        elements: elements,
        confirmParams: { return_url: returnUrl },
        redirect: "if_required",
      })
      .then(function (result) {
        if (result.error) {
          fail(result.error.message + " Nothing was charged; try another card.");
          return;
        }
        var intent = result.paymentIntent;
        if (intent.status !== "succeeded" && intent.status !== "processing") {
          fail("The payment was not completed. Nothing was charged; try another card.");
          return;
        }
        window.location.assign(returnUrl + "?payment_intent=" + encodeURIComponent(intent.id));
      }, function () {
        fail("The payment could not be sent. Please try again.");
      });
  });
})();
