"""The Klein resource tree: one module per API family, thin handlers."""
