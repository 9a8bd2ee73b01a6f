"""Tests of api/routes/sso.py: configuration and discovery, the SAML and the OIDC flows."""
