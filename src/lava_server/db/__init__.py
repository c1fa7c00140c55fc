"""Database access: engine and transactions (`engine`), schema (`models`), migrations."""
