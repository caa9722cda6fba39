"""SQL, one module per aggregate: Deferred-returning functions over plain values."""
