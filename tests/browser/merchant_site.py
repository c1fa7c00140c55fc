"""A merchant's site on its own origin: a backend that creates checkout sessions with the
merchant's secret key, and a page that opens the checkout the way Lava's front-end helper does
(decode the token, frame `{base}embed/checkout/{secret}`, listen for the checkout's messages
from Lava's origin only)."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme AI</title></head>
<body>
<h1>Acme AI</h1>
<p id="status">Ready</p>
<script>
window.lavaMessages = [];
var listening = null;
// What Lava's front-end helper does with a checkout_session_token.
function openLavaCheckout(token) {
  closeLavaCheckout();
  var decoded = JSON.parse(atob(token));
  var lavaOrigin = new URL(decoded.base).origin;
  var frame = document.createElement("iframe");
  frame.id = "lava-checkout";
  frame.title = "Lava checkout";
  frame.src = decoded.base + "embed/checkout/" + decoded.secret;
  frame.style.cssText = "position:fixed;inset:0;width:100%;height:100%;border:0;background:#fff";
  function onMessage(event) {
    if (event.origin !== lavaOrigin || !event.data) return;
    var type = event.data.type;
    if (type !== "lava_checkout_success" && type !== "lava_checkout_cancel") return;
    window.lavaMessages.push(event.data);
    document.getElementById("status").textContent = event.data.type;
  }
  window.addEventListener("message", onMessage);
  listening = onMessage;
  document.body.appendChild(frame);
}
async function startCheckout(params) {
  var response = await fetch("/checkout-session", {
    method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(params)
  });
  var session = await response.json();
  openLavaCheckout(session.checkout_session_token);
  return session.checkout_session_id;
}
function closeLavaCheckout() {
  var frame = document.getElementById("lava-checkout");
  if (frame) frame.remove();
  if (listening) window.removeEventListener("message", listening);
  listening = null;
}
</script>
</body>
</html>"""


class MerchantSite:
    """The merchant's backend and page; `configure` once Lava's and its own URLs are known."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.lava_base_url = ""
        self.origin = ""
        self.app = Starlette(
            routes=[
                Route("/", self.page),
                Route("/checkout-session", self.checkout_session, methods=["POST"]),
            ]
        )

    def configure(self, lava_base_url: str, origin: str) -> None:
        self.lava_base_url, self.origin = lava_base_url, origin

    async def page(self, _request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def checkout_session(self, request: Request) -> JSONResponse:
        """What a merchant's backend does: create the session with its secret key."""
        params: dict[str, Any] = await request.json()
        async with httpx.AsyncClient(base_url=self.lava_base_url) as lava:
            response = await lava.post(
                "v1/checkout_sessions",
                json={"origin_url": self.origin, **params},
                headers={"Authorization": f"Bearer {self.secret_key}"},
            )
        return JSONResponse(response.json(), status_code=response.status_code)
