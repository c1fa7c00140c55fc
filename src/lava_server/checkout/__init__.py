"""Hosted checkout (`docs/checkout-and-wallets.md`): the checkout sessions API (`routes`,
`service`) and the page at `/embed/checkout/{secret}` (`page`, `flow`), with one-time codes
(`codes`) and the checks of what customers type (`forms`)."""
