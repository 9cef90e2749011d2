-- Accounts made by single sign-on: the provider's stable subject (`ISSUER#SUB`). Their
-- password hash is "!", which never verifies, so they cannot log in locally unless an admin
-- sets a password.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject) WHERE oidc_subject IS NOT NULL;
