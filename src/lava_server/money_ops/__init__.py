"""A merchant's money operations over the API and the CLI: grants of credit, adjustments,
refunds through the provider that took a payment, and the list of payments with their refunds
(`docs/checkout-and-wallets.md#merchant-money-operations`). The ledger side is
`wallets.operations`; this package finds the objects, checks the rules and calls the provider."""
