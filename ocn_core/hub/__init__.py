"""The hub's request handlers (versions, credentials, forwarding), one module per job."""
