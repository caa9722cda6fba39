"""ActivityPub transport: HTTP Signatures, keys and the guarded HTTP client."""
