/* A stand-in for Stripe.js v3, served by the fake Stripe at /v3/. No build step, no other host:
 * it calls the fake Stripe that served it, as Stripe.js calls api.stripe.com (form-encoded, the
 * publishable key in the `key` field, intents read and confirmed with their client secret).
 *
 *   const stripe = Stripe("pk_test_...");
 *   const elements = stripe.elements({clientSecret});          // or {mode, amount, currency}
 *   const card = elements.create("payment");                    // or "card"
 *   card.mount("#payment-element");                             // labelled inputs, in the page
 *   const {error, paymentIntent} = await stripe.confirmPayment(
 *       {elements, confirmParams: {return_url}, redirect: "if_required"});
 *
 * Also confirmCardPayment, confirmSetup, confirmCardSetup, handleNextAction, handleCardAction,
 * retrievePaymentIntent, retrieveSetupIntent, createPaymentMethod. A card that asks for 3-D Secure
 * opens an in-page dialog ("Complete authentication" / "Fail authentication"); the answer goes to
 * the fake's /_fake/.../authenticate control, then the intent is read again.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var scriptUrl = new URL(script ? script.src : "/v3/", window.location.href);
  var API = scriptUrl.origin + scriptUrl.pathname.replace(/\/v3\/?.*$/, "");
  var counter = 0;

  function encode(data, prefix, out) {
    out = out || [];
    Object.keys(data).forEach(function (name) {
      var value = data[name];
      var key = prefix ? prefix + "[" + name + "]" : name;
      if (value === undefined || value === null) return;
      if (Array.isArray(value)) {
        value.forEach(function (item, index) {
          if (item !== null && typeof item === "object") encode(item, key + "[" + index + "]", out);
          else out.push(encodeURIComponent(key + "[" + index + "]") + "=" + encodeURIComponent(item));
        });
      } else if (typeof value === "object") {
        encode(value, key, out);
      } else {
        out.push(encodeURIComponent(key) + "=" + encodeURIComponent(String(value)));
      }
    });
    return out;
  }

  function request(method, path, key, data) {
    var body = encode(Object.assign({key: key}, data || {})).join("&");
    var url = API + path;
    var init = {method: method, headers: {}};
    if (method === "GET") {
      url += "?" + body;
    } else {
      init.headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.body = body;
    }
    return fetch(url, init).then(function (response) {
      return response.json().then(function (json) {
        return {ok: response.ok, status: response.status, json: json};
      });
    }, function (failure) {
      return {ok: false, status: 0, json: {error: {type: "api_connection_error",
        message: "Could not reach the fake Stripe: " + failure}}};
    });
  }

  function control(path, data) {
    return fetch(API + "/_fake" + path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(data),
    }).then(function (response) { return response.json(); });
  }

  function intentOf(clientSecret) {
    var match = /^((pi|seti)_[A-Za-z0-9]+)_secret_/.exec(clientSecret || "");
    if (!match) return null;
    return {id: match[1], kind: match[2] === "pi" ? "payment_intents" : "setup_intents",
            field: match[2] === "pi" ? "paymentIntent" : "setupIntent"};
  }

  function integrationError(message) {
    return Promise.resolve({error: {type: "invalid_request_error", message: message}});
  }

  /* -- elements ------------------------------------------------------------------------------ */

  function luhn(number) {
    var sum = 0;
    for (var i = 0; i < number.length; i++) {
      var digit = Number(number[number.length - 1 - i]);
      if (i % 2) {
        digit *= 2;
        if (digit > 9) digit -= 9;
      }
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function checkCard(values) {
    var number = values.number.replace(/\s+/g, "");
    if (!number) return {code: "incomplete_number", message: "Your card number is incomplete."};
    if (!/^\d{12,19}$/.test(number) || !luhn(number)) {
      return {code: "invalid_number", message: "Your card number is invalid."};
    }
    var expiry = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(values.expiry);
    if (!values.expiry.trim()) {
      return {code: "incomplete_expiry", message: "Your card's expiration date is incomplete."};
    }
    if (!expiry) return {code: "invalid_expiry_year", message: "Your card's expiration date is invalid."};
    if (!values.cvc.trim()) return {code: "incomplete_cvc", message: "Your card's security code is incomplete."};
    if (!/^\d{3,4}$/.test(values.cvc.trim())) {
      return {code: "invalid_cvc", message: "Your card's security code is invalid."};
    }
    return null;
  }

  function Element(elements, type) {
    this._elements = elements;
    this._type = type;
    this._handlers = {};
    this._node = null;
    this._id = "fake-stripe-" + (++counter);
  }

  Element.prototype.mount = function (target) {
    var node = typeof target === "string" ? document.querySelector(target) : target;
    if (!node) throw new Error("Stripe: the mount point " + target + " was not found.");
    var id = this._id;
    node.innerHTML =
      '<div class="FakeStripeElement" data-fake-stripe-element="' + this._type + '">' +
      '<div><label for="' + id + '-number">Card number</label> ' +
      '<input id="' + id + '-number" name="cardnumber" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234"></div>' +
      '<div><label for="' + id + '-expiry">Expiration date</label> ' +
      '<input id="' + id + '-expiry" name="exp-date" inputmode="numeric" autocomplete="cc-exp" placeholder="MM / YY"></div>' +
      '<div><label for="' + id + '-cvc">Security code</label> ' +
      '<input id="' + id + '-cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC"></div>' +
      '<div role="alert" class="FakeStripeElement-error" id="' + id + '-error"></div>' +
      "</div>";
    this._node = node;
    var self = this;
    ["number", "expiry", "cvc"].forEach(function (part) {
      var input = document.getElementById(id + "-" + part);
      input.addEventListener("input", function () { self._changed(); });
      input.addEventListener("focus", function () { self._emit("focus", {elementType: self._type}); });
      input.addEventListener("blur", function () { self._emit("blur", {elementType: self._type}); });
    });
    setTimeout(function () { self._emit("ready", {elementType: self._type}); }, 0);
    return this;
  };

  Element.prototype._values = function () {
    var id = this._id;
    function value(part) {
      var input = document.getElementById(id + "-" + part);
      return input ? input.value : "";
    }
    return {number: value("number"), expiry: value("expiry"), cvc: value("cvc")};
  };

  Element.prototype._changed = function () {
    var values = this._values();
    var problem = checkCard(values);
    var empty = !values.number && !values.expiry && !values.cvc;
    var error = problem && !/^incomplete/.test(problem.code)
      ? {type: "validation_error", code: problem.code, message: problem.message} : undefined;
    this._showError(error ? error.message : "");
    var number = values.number.replace(/\s+/g, "");
    this._emit("change", {
      elementType: this._type, empty: empty, complete: !problem, error: error,
      brand: /^4/.test(number) ? "visa" : /^5[1-5]/.test(number) ? "mastercard"
        : /^3[47]/.test(number) ? "amex" : "unknown",
      value: {type: "card"},
    });
  };

  Element.prototype._showError = function (message) {
    var node = document.getElementById(this._id + "-error");
    if (node) node.textContent = message;
  };

  Element.prototype._emit = function (name, event) {
    (this._handlers[name] || []).forEach(function (handler) { handler(event); });
  };

  Element.prototype.on = function (name, handler) {
    (this._handlers[name] = this._handlers[name] || []).push(handler);
    return this;
  };
  Element.prototype.off = function (name, handler) {
    this._handlers[name] = (this._handlers[name] || []).filter(function (h) { return h !== handler; });
    return this;
  };
  Element.prototype.once = function (name, handler) {
    var self = this;
    function wrapper(event) { self.off(name, wrapper); handler(event); }
    return this.on(name, wrapper);
  };
  Element.prototype.update = function () { return this; };
  Element.prototype.focus = function () {
    var input = document.getElementById(this._id + "-number");
    if (input) input.focus();
  };
  Element.prototype.blur = function () {};
  Element.prototype.clear = function () {
    var id = this._id;
    ["number", "expiry", "cvc"].forEach(function (part) {
      var input = document.getElementById(id + "-" + part);
      if (input) input.value = "";
    });
  };
  Element.prototype.unmount = function () {
    if (this._node) this._node.innerHTML = "";
    this._node = null;
  };
  Element.prototype.destroy = function () {
    this.unmount();
    this._elements._elements = this._elements._elements.filter(function (e) { return e !== this; }, this);
  };

  /* The payment method data of a card element, or an error to resolve with. */
  Element.prototype._paymentMethodData = function () {
    if (!this._node) {
      return {error: {type: "invalid_request_error", code: "element_not_mounted",
                      message: "The card element is not mounted."}};
    }
    var values = this._values();
    var problem = checkCard(values);
    if (problem) {
      this._showError(problem.message);
      return {error: {type: "validation_error", code: problem.code, message: problem.message}};
    }
    var expiry = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(values.expiry);
    return {data: {type: "card", card: {
      number: values.number.replace(/\s+/g, ""), exp_month: expiry[1], exp_year: expiry[2],
      cvc: values.cvc.trim()}}};
  };

  function Elements(stripe, options) {
    this._stripe = stripe;
    this._options = options || {};
    this._elements = [];
    this._submitted = false;
  }
  Elements.prototype.create = function (type, options) {
    if (["payment", "card"].indexOf(type) < 0) {
      throw new Error("The fake Stripe.js makes 'payment' and 'card' elements only, not " + type);
    }
    var element = new Element(this, type, options);
    this._elements.push(element);
    return element;
  };
  Elements.prototype.getElement = function (type) {
    for (var i = 0; i < this._elements.length; i++) {
      if (this._elements[i]._type === type || (type && type.type === this._elements[i]._type)) {
        return this._elements[i];
      }
    }
    return null;
  };
  Elements.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };
  Elements.prototype.fetchUpdates = function () { return Promise.resolve({}); };
  Elements.prototype.submit = function () {
    var element = this._elements[0];
    if (!element) return integrationError("No element was created.");
    var result = element._paymentMethodData();
    this._submitted = !result.error;
    return Promise.resolve(result.error ? {error: result.error} : {});
  };
  Elements.prototype._cardData = function () {
    var element = this._elements[0];
    if (!element) return {error: {type: "invalid_request_error", message: "No element was created."}};
    return element._paymentMethodData();
  };

  /* -- 3-D Secure ------------------------------------------------------------------------------ */

  function challenge(intent) {
    return new Promise(function (resolve) {
      var overlay = document.createElement("div");
      overlay.setAttribute("data-fake-stripe-challenge", intent.id);
      overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);z-index:2147483647;" +
        "display:flex;align-items:center;justify-content:center;font:16px sans-serif";
      var amount = intent.amount !== undefined
        ? " of " + (intent.amount / 100).toFixed(2) + " " + String(intent.currency).toUpperCase() : "";
      overlay.innerHTML =
        '<div role="dialog" aria-modal="true" aria-labelledby="fake-3ds-title">' +
        '<h2 id="fake-3ds-title">3D Secure authentication</h2>' +
        "<p>Fake bank: confirm the payment" + amount + ".</p>" +
        '<button type="button" data-result="complete">Complete authentication</button> ' +
        '<button type="button" data-result="fail">Fail authentication</button></div>';
      // Styles through the CSSOM, not style attributes: a page's CSP without 'unsafe-inline'
      // styles still shows the dialog as it should.
      var box = overlay.firstChild;
      box.style.background = "#fff";
      box.style.color = "#111";
      box.style.padding = "24px";
      box.style.borderRadius = "8px";
      box.style.maxWidth = "360px";
      document.body.appendChild(overlay);
      overlay.querySelectorAll("button").forEach(function (button) {
        button.addEventListener("click", function () {
          overlay.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
          var kind = intent.object === "setup_intent" ? "setup_intents" : "payment_intents";
          control("/" + kind + "/" + intent.id + "/authenticate",
                  {result: button.getAttribute("data-result")})
            .then(function () { overlay.remove(); resolve(); },
                  function () { overlay.remove(); resolve(); });
        });
      });
    });
  }

  function outcome(intent, field) {
    var result = {};
    var error = intent.last_payment_error || intent.last_setup_error;
    if (intent.status === "requires_payment_method" && error) {
      var copy = Object.assign({}, error);
      copy[intent.object] = intent;
      result.error = copy;
    } else {
      result[field] = intent;
    }
    return result;
  }

  function Stripe(key, options) {
    if (!(this instanceof Stripe)) return new Stripe(key, options);
    if (typeof key !== "string" || !/^pk_(test|live)_/.test(key)) {
      throw new Error("Invalid value for Stripe(): apiKey should be a publishable key (pk_...).");
    }
    this._key = key;
    this._options = options || {};
  }

  Stripe.prototype.elements = function (options) { return new Elements(this, options); };

  Stripe.prototype._retrieve = function (clientSecret) {
    var intent = intentOf(clientSecret);
    return request("GET", "/v1/" + intent.kind + "/" + intent.id, this._key,
                   {client_secret: clientSecret});
  };

  /* Confirm an intent, then handle 3-D Secure; resolves with {paymentIntent|setupIntent} or
     {error}. */
  Stripe.prototype._confirm = function (clientSecret, data, redirect, returnUrl) {
    var self = this;
    var intent = intentOf(clientSecret);
    if (!intent) return integrationError("Invalid value for clientSecret: " + clientSecret);
    var params = Object.assign({client_secret: clientSecret, use_stripe_sdk: "true"}, data);
    if (returnUrl) params.return_url = returnUrl;
    return request("POST", "/v1/" + intent.kind + "/" + intent.id + "/confirm", this._key, params)
      .then(function (answer) {
        if (!answer.ok) return {error: answer.json.error};
        return self._afterConfirm(answer.json, clientSecret, intent.field);
      })
      .then(function (result) {
        var done = result[intent.field];
        if (done && redirect === "always" && returnUrl) {
          var target = new URL(returnUrl, window.location.href);
          var prefix = intent.field === "paymentIntent" ? "payment_intent" : "setup_intent";
          target.searchParams.set(prefix, done.id);
          target.searchParams.set(prefix + "_client_secret", clientSecret);
          target.searchParams.set("redirect_status", done.status === "succeeded" ? "succeeded" : "failed");
          window.location.assign(target.toString());
          return new Promise(function () {});
        }
        return result;
      });
  };

  Stripe.prototype._afterConfirm = function (intent, clientSecret, field) {
    var self = this;
    if (intent.status !== "requires_action") return Promise.resolve(outcome(intent, field));
    return challenge(intent).then(function () {
      return self._retrieve(clientSecret);
    }).then(function (answer) {
      if (!answer.ok) return {error: answer.json.error};
      return outcome(answer.json, field);
    });
  };

  Stripe.prototype._dataFrom = function (elements, paymentMethod) {
    if (typeof paymentMethod === "string") return {payment_method: paymentMethod};
    if (paymentMethod && paymentMethod.card) {
      var result = paymentMethod.card._paymentMethodData();
      if (result.error) return result;
      if (paymentMethod.billing_details) result.data.billing_details = paymentMethod.billing_details;
      return {payment_method_data: result.data};
    }
    if (elements) {
      var fromElements = elements._cardData();
      if (fromElements.error) return fromElements;
      return {payment_method_data: fromElements.data};
    }
    return {};
  };

  Stripe.prototype.confirmPayment = function (options) {
    options = options || {};
    var elements = options.elements;
    var clientSecret = options.clientSecret || (elements && elements._options.clientSecret);
    if (!clientSecret) return integrationError("confirmPayment needs a clientSecret.");
    var confirmParams = Object.assign({}, options.confirmParams || {});
    var returnUrl = confirmParams.return_url;
    delete confirmParams.return_url;
    if (!returnUrl && options.redirect !== "if_required") {
      return integrationError("confirmPayment(): the `confirmParams.return_url` argument is required " +
                              "unless passing `redirect: 'if_required'`");
    }
    var data = this._dataFrom(elements, confirmParams.payment_method || null);
    if (data.error) return Promise.resolve({error: data.error});
    delete confirmParams.payment_method;
    if (confirmParams.payment_method_data && data.payment_method_data) {
      Object.assign(data.payment_method_data, confirmParams.payment_method_data);
      delete confirmParams.payment_method_data;
    }
    return this._confirm(clientSecret, Object.assign(confirmParams, data), options.redirect || "always",
                         returnUrl);
  };

  Stripe.prototype.confirmSetup = function (options) {
    options = options || {};
    var elements = options.elements;
    var clientSecret = options.clientSecret || (elements && elements._options.clientSecret);
    if (!clientSecret) return integrationError("confirmSetup needs a clientSecret.");
    var confirmParams = Object.assign({}, options.confirmParams || {});
    var returnUrl = confirmParams.return_url;
    delete confirmParams.return_url;
    if (!returnUrl && options.redirect !== "if_required") {
      return integrationError("confirmSetup(): the `confirmParams.return_url` argument is required " +
                              "unless passing `redirect: 'if_required'`");
    }
    var data = this._dataFrom(elements, null);
    if (data.error) return Promise.resolve({error: data.error});
    return this._confirm(clientSecret, Object.assign(confirmParams, data), options.redirect || "always",
                         returnUrl);
  };

  Stripe.prototype.confirmCardPayment = function (clientSecret, data, options) {
    data = Object.assign({}, data || {});
    var params = this._dataFrom(null, data.payment_method);
    if (params.error) return Promise.resolve({error: params.error});
    delete data.payment_method;
    var returnUrl = data.return_url;
    delete data.return_url;
    var self = this;
    if (options && options.handleActions === false) {
      var intent = intentOf(clientSecret);
      return request("POST", "/v1/" + intent.kind + "/" + intent.id + "/confirm", this._key,
                     Object.assign({client_secret: clientSecret}, data, params))
        .then(function (answer) {
          return answer.ok ? outcome(answer.json, intent.field) : {error: answer.json.error};
        });
    }
    return self._confirm(clientSecret, Object.assign(data, params), "if_required", returnUrl);
  };

  Stripe.prototype.confirmCardSetup = function (clientSecret, data) {
    data = Object.assign({}, data || {});
    var params = this._dataFrom(null, data.payment_method);
    if (params.error) return Promise.resolve({error: params.error});
    delete data.payment_method;
    return this._confirm(clientSecret, Object.assign(data, params), "if_required", null);
  };

  Stripe.prototype.handleNextAction = function (options) {
    var clientSecret = options && options.clientSecret;
    var intent = intentOf(clientSecret);
    if (!intent) return integrationError("handleNextAction needs a clientSecret.");
    var self = this;
    return this._retrieve(clientSecret).then(function (answer) {
      if (!answer.ok) return {error: answer.json.error};
      return self._afterConfirm(answer.json, clientSecret, intent.field);
    });
  };

  Stripe.prototype.handleCardAction = function (clientSecret) {
    return this.handleNextAction({clientSecret: clientSecret});
  };
  Stripe.prototype.handleCardSetup = function (clientSecret) {
    return this.handleNextAction({clientSecret: clientSecret});
  };

  Stripe.prototype.retrievePaymentIntent = function (clientSecret) {
    return this._retrieve(clientSecret).then(function (answer) {
      return answer.ok ? {paymentIntent: answer.json} : {error: answer.json.error};
    });
  };
  Stripe.prototype.retrieveSetupIntent = function (clientSecret) {
    return this._retrieve(clientSecret).then(function (answer) {
      return answer.ok ? {setupIntent: answer.json} : {error: answer.json.error};
    });
  };

  Stripe.prototype.createPaymentMethod = function (options) {
    options = options || {};
    var data;
    if (options.elements) {
      data = options.elements._cardData();
    } else if (options.card) {
      data = options.card._paymentMethodData();
    } else {
      return integrationError("createPaymentMethod needs elements or a card element.");
    }
    if (data.error) return Promise.resolve({error: data.error});
    var params = data.data;
    if (options.billing_details) params.billing_details = options.billing_details;
    var extra = options.params || {};
    return request("POST", "/v1/payment_methods", this._key, Object.assign(params, extra))
      .then(function (answer) {
        return answer.ok ? {paymentMethod: answer.json} : {error: answer.json.error};
      });
  };

  Stripe.version = 3;
  Stripe.fake = true;
  window.Stripe = Stripe;
})();
