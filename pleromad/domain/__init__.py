"""The rules, one module per capability; knows no HTTP."""
