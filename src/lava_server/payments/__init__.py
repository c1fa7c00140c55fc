"""Payments: the provider interface (`interface`), the sandbox provider (test cards), the SMS
interface for one-time codes, what live mode needs before it takes real money (`live`), and the
payment records that make every charge happen at most once (`service`). See
`docs/checkout-and-wallets.md`."""
