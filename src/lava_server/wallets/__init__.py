"""Wallets and the ledger: every balance change is a set of ledger entries that sum to zero,
written in the same transaction as the balance change, under the wallet's lock. Period credit
(`credit`), funding (`service`) and autopay top-ups (`autopay`, charged through `payments`)."""
