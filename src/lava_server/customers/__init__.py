"""The current API's customers: connections seen through `/v1/customers`."""
