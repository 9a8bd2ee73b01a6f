"""The security core: passwords, tokens, permissions, crypto at rest, tenant scoping.

Each module is small and imports only what it needs, so `auterity.db` can pull in
`scoping` without loading password hashers or JWT libraries.
"""
