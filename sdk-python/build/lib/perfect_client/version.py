"""The SDK's version, sent to the server at registration."""

__version__ = "0.1.0"
