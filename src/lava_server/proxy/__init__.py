"""The forward proxy: ``/v1/forward?u=<provider url>``."""
