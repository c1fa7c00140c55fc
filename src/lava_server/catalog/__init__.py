"""The current API's `GET /v1/models`: the models the price table knows."""
