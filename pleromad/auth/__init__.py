"""Authentication as twisted.cred: credentials, checkers, the realm and passwords."""
