"""Enterprise single sign-on: SAML 2.0 (python3-saml), OpenID Connect (authlib) and SCIM 2.0.

- `config`: a tenant's IdP settings, sealed secrets, the service provider's key pair;
- `egress`: the one place SSO reaches the network (IdP metadata, discovery, keys, tokens);
- `flow`: what every sign-in shares: requests in flight, relay paths, browser binding,
  one-time hand-off codes, refusals and their audit entries;
- `saml`, `oidc`: the two protocols, each ending in a verified `Assertion`;
- `provisioning`: from an assertion to a member with the roles the tenant maps;
- `scim`: the SCIM 2.0 resources (Users, Groups) over the same members and mapping;
- `discovery`: email domain -> where the person signs in.

A successful sign-in ends like a password login: `auterity.security.authentication.start_session`
issues the tokens and `auth.login` is audited with `method` saml or oidc.
"""
