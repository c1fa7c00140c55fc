"""The rewrite door of the forward proxy (`docs/forward-proxy.md#rewrite`): a client of one API
shape reaches a provider of another; request, answer and stream are translated, the call is
metered by the forward proxy as any forward call."""
