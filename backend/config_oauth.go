package backend

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// oauthConfigUpdate is an OAuth config write after its fields were read,
// before it is applied. A nil pointer means the field was not given.
type oauthConfigUpdate struct {
	issuerURL  *string
	clientID   *string
	privateKey *string
	keyID      *string
	scopes     []string
	adminURL   *string
	warnings   []string

	// caCertificate is nil when the request does not set ca_certificate.
	caCertificate *string
}

// parseOAuthConfigUpdate reads the OAuth fields of a config write and
// checks each on its own. Checks that need the stored config follow in
// applyOAuthConfigUpdate.
func parseOAuthConfigUpdate(d *framework.FieldData) (*oauthConfigUpdate, string) {
	update := &oauthConfigUpdate{}

	for field, target := range map[string]**string{
		"issuer_url":  &update.issuerURL,
		"client_id":   &update.clientID,
		"private_key": &update.privateKey,
		"key_id":      &update.keyID,
		"admin_url":   &update.adminURL,
	} {
		if value, ok := d.GetOk(field); ok {
			text := value.(string)
			*target = &text
		}
	}

	// Messages echo every field but private_key, so a key pasted into the
	// wrong field is rejected before anything quotes it.
	for field, value := range map[string]*string{"issuer_url": update.issuerURL, "admin_url": update.adminURL} {
		if value != nil && (strings.Contains(*value, "PRIVATE KEY") || strings.Contains(*value, `"d"`)) {
			return nil, fmt.Sprintf("%s contains a private key; pass the key as private_key=@client.jwk", field)
		}
	}

	if raw, ok, err := d.GetOkErr("scopes"); err != nil {
		return nil, "scopes is not a list of strings; pass scopes=rsa.audit.admin,rsa.user.read or a JSON array"
	} else if ok {
		update.scopes = raw.([]string)
		if err := cas.ValidateScopes("scopes", update.scopes); err != nil {
			return nil, err.Error()
		}
	}

	if update.issuerURL != nil {
		if err := cas.ValidateIssuerURL("issuer_url", *update.issuerURL); err != nil {
			return nil, err.Error()
		}

		if warning := cas.IssuerURLWarning("issuer_url", *update.issuerURL); warning != "" {
			update.warnings = append(update.warnings, warning)
		}
	}

	if update.clientID != nil {
		if err := cas.ValidateClientID("client_id", *update.clientID); err != nil {
			return nil, err.Error()
		}
	}

	if update.adminURL != nil && *update.adminURL != "" {
		if err := cas.ValidateAdminURL("admin_url", *update.adminURL); err != nil {
			return nil, err.Error()
		}
	}

	if value, ok := d.GetOk("ca_certificate"); ok {
		caPEM := strings.TrimSpace(value.(string))
		if msg := caCertificateError(caPEM); msg != "" {
			return nil, msg
		}

		update.caCertificate = &caPEM
	}

	if update.keyID != nil && update.privateKey == nil {
		return nil, "key_id changes only together with private_key, because a key ID belongs to one key; pass the key again with private_key=@client.pem key_id=<kid>"
	}

	return update, ""
}

// applyOAuthConfigUpdate returns the config that results from applying
// update to existing (nil when creating), after checking the result. It
// reports whether the private key changed.
func (b *backend) applyOAuthConfigUpdate(existing *keyConfig, update *oauthConfigUpdate) (*keyConfig, bool, string) {
	now := b.now().UTC()

	cfg := &keyConfig{CreatedAt: now}
	if existing != nil {
		copied := *existing
		copied.Scopes = append([]string(nil), existing.Scopes...)
		cfg = &copied
	}

	cfg.Kind = kindOAuth
	cfg.UpdatedAt = now

	if update.issuerURL != nil {
		cfg.IssuerURL = *update.issuerURL
	}

	if update.clientID != nil {
		cfg.ClientID = *update.clientID
	}

	if update.scopes != nil {
		cfg.Scopes = update.scopes
	}

	if update.adminURL != nil {
		cfg.AdminURL = *update.adminURL
	}

	if update.caCertificate != nil {
		cfg.CACertificate = *update.caCertificate
	}

	if existing == nil {
		var missing []string

		for field, value := range map[string]bool{
			"issuer_url":  cfg.IssuerURL != "",
			"client_id":   cfg.ClientID != "",
			"private_key": update.privateKey != nil,
			"scopes":      len(cfg.Scopes) > 0,
		} {
			if !value {
				missing = append(missing, field)
			}
		}

		if len(missing) > 0 {
			slices.Sort(missing)

			return nil, false, fmt.Sprintf("%s missing for an OAuth client config; pass issuer_url, client_id, private_key (with key_id when the key has no kid) and scopes, as the RSA console shows them for the client",
				pluralIs(missing))
		}
	}

	if update.privateKey == nil {
		return cfg, false, ""
	}

	keyID := ""
	if update.keyID != nil {
		keyID = *update.keyID
	}

	key, err := cas.ParseOAuthKey("private_key", *update.privateKey, "key_id", keyID)
	if err != nil {
		return nil, false, err.Error()
	}

	fingerprint, err := key.Fingerprint()
	if err != nil {
		return nil, false, fmt.Sprintf("private_key: cannot encode the public key: %v", err)
	}

	stored, err := key.PEM()
	if err != nil {
		return nil, false, fmt.Sprintf("private_key: cannot encode the key for storage: %v", err)
	}

	cfg.PrivateKey = stored
	cfg.KeyID = key.KeyID
	cfg.KeyType = key.Type
	cfg.KeyBits = key.Bits
	cfg.KeyCurve = key.Curve
	cfg.Fingerprint = fingerprint
	cfg.KeyUpdatedAt = now

	return cfg, true, ""
}

// oauthConfigResponseData returns the fields that reads of an OAuth config
// show. The private key is left out, and key_id, key_type, key_bits,
// key_curve and public_key_sha256 identify it instead.
func oauthConfigResponseData(cfg *keyConfig) map[string]any {
	return map[string]any{
		"kind":              kindOAuth,
		"issuer_url":        cfg.IssuerURL,
		"token_url":         cas.TokenEndpoint(cfg.IssuerURL),
		"client_id":         cfg.ClientID,
		"key_id":            cfg.KeyID,
		"key_type":          cfg.KeyType,
		"key_bits":          cfg.KeyBits,
		"key_curve":         cfg.KeyCurve,
		"public_key_sha256": cfg.Fingerprint,
		"scopes":            append([]string{}, cfg.Scopes...),
		"admin_url":         cfg.AdminURL,
		"ca_certificate":    cfg.CACertificate,
		"created_at":        cfg.CreatedAt.Format(time.RFC3339),
		"updated_at":        cfg.UpdatedAt.Format(time.RFC3339),
		"key_updated_at":    cfg.KeyUpdatedAt.Format(time.RFC3339),
	}
}

// pluralIs joins field names with "is" or "are", such as "scopes is" or
// "client_id, scopes are".
func pluralIs(fields []string) string {
	if len(fields) == 1 {
		return fields[0] + " is"
	}

	return strings.Join(fields, ", ") + " are"
}

// prepareOAuthConfig applies an OAuth client write to existing (nil when
// creating). It returns a message for a caller mistake, such as scopes
// that would drop a scope a role requests.
func (b *backend) prepareOAuthConfig(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, existing *keyConfig) (*preparedConfig, string, error) {
	update, msg := parseOAuthConfigUpdate(d)
	if msg != "" {
		return nil, msg, nil
	}

	cfg, keyChanged, msg := b.applyOAuthConfigUpdate(existing, update)
	if msg != "" {
		return nil, msg, nil
	}

	if existing != nil && update.scopes != nil {
		if msg, err := b.scopesStillCoverRoles(ctx, req, name, cfg.Scopes); msg != "" || err != nil {
			return nil, msg, err
		}
	}

	return &preparedConfig{config: cfg, keyChanged: keyChanged, warnings: update.warnings}, "", nil
}

// scopesStillCoverRoles returns a message when a role on the config
// requests a scope that granted no longer lists.
func (b *backend) scopesStillCoverRoles(ctx context.Context, req *logical.Request, name string, granted []string) (string, error) {
	users, err := rolesUsingConfig(ctx, req.Storage, name)
	if err != nil {
		return "", err
	}

	var conflicts []string

	for _, roleName := range users {
		role, err := readRole(ctx, req.Storage, roleName)
		if err != nil {
			return "", err
		}

		if role == nil {
			continue
		}

		if missing := cas.MissingScopes(role.Scopes, granted); len(missing) > 0 {
			conflicts = append(conflicts, fmt.Sprintf("role %s requests %s", roleName, strings.Join(missing, " ")))
		}
	}

	if len(conflicts) == 0 {
		return "", nil
	}

	return fmt.Sprintf("scopes of config %q cannot drop scopes that roles request (%s); change those roles' scopes first (vault write %sroles/<role> scopes=...), or keep the scopes",
		name, strings.Join(conflicts, "; "), mountPath(req)), nil
}

// loadOAuthKey parses the stored key of an OAuth config for the signer
// cache, with the HTTP client its token requests use.
func (b *backend) loadOAuthKey(name string, cfg *keyConfig) (*cachedKey, error) {
	key, err := cas.ParseOAuthKey("stored private key", cfg.PrivateKey, "stored key_id", cfg.KeyID)
	if err != nil {
		return nil, fmt.Errorf("parse stored key of config %q: %w", name, err)
	}

	client, err := b.newHTTPClient(cfg.CACertificate)
	if err != nil {
		return nil, fmt.Errorf("HTTP client for config %q: %w", name, err)
	}

	b.Logger().Debug("parsed and cached key", "config", name, "client_id", cfg.ClientID, "key_id", cfg.KeyID)

	return &cachedKey{config: cfg, oauthKey: key, client: client}, nil
}
