package backend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const (
	configStoragePrefix = "config/"

	pathConfigHelpSynopsis = `Manage RSA CAS Administration API credentials: legacy keys and OAuth clients.`

	pathConfigHelpDescription = `
Stores one credential per name, of one of two kinds. The read-only field kind
tells them apart; it follows from the fields written.

kind=legacy: a legacy Administration API key. Pass the .key file that the RSA
console downloaded as key_file, or its fields one by one (access_id,
access_key, admin_rest_api_url, customer_name, description). The file does not
record the administrator role the key was created with, so admin_role is
required: help_desk or super_admin.

kind=oauth: an OAuth Administration API client. Pass issuer_url, client_id,
private_key (the client's JWK, RSA or EC P-256, whose kid is the key ID; or a
PEM key with key_id) and scopes, the permissions granted to the client in the
RSA console. admin_url, the tenant's Admin REST API URL, is optional.

A write may not mix the fields of both kinds. To turn a config into the other
kind, write kind=<new kind> with all of its fields; roles must not use it.

Reads never return the private key. They return the key's size, type and the
SHA-256 fingerprint of its public key instead. Storage is seal-wrapped where
Vault supports it.

A config that roles still use cannot be deleted, its admin_role cannot change
while roles use it, and its scopes cannot drop a scope that a role requests.

With verify=true the write first checks the credential with CAS: for a legacy
key it mints a token and calls the CAS Admin API with it; for an OAuth client
it requests an access token for the config's scopes and, when admin_url is set
and the scopes allow it, calls the Admin API with that token. If CAS rejects
the credential or cannot be reached, the write fails with the reason and
storage is left as it was. ca_certificate adds CA certificates to trust for
HTTPS to CAS.
`

	pathConfigListHelpSynopsis    = `List the names of stored CAS keys.`
	pathConfigListHelpDescription = `Lists the config names under config/.`
)

// keyConfig is the stored form of one config: a legacy key or an OAuth
// client.
type keyConfig struct {
	AccessID        string    `json:"access_id"`
	PrivateKey      string    `json:"private_key"` // PKCS#1 PEM for legacy keys
	AdminRestAPIURL string    `json:"admin_rest_api_url"`
	CustomerName    string    `json:"customer_name"`
	Description     string    `json:"description"`
	AdminRole       string    `json:"admin_role"`
	KeyBits         int       `json:"key_bits"`
	Fingerprint     string    `json:"public_key_sha256"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	KeyUpdatedAt    time.Time `json:"key_updated_at"`
	CACertificate   string    `json:"ca_certificate,omitempty"`

	// Kind is kindLegacy or kindOAuth; "" in entries written before OAuth
	// support, which hold legacy keys. Use kind() to read it.
	Kind string `json:"kind,omitempty"`

	// OAuth client fields. PrivateKey then holds PKCS#8 PEM, and KeyBits
	// and Fingerprint describe that key.
	IssuerURL string   `json:"issuer_url,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	KeyID     string   `json:"key_id,omitempty"`
	KeyType   string   `json:"key_type,omitempty"`
	KeyCurve  string   `json:"key_curve,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	AdminURL  string   `json:"admin_url,omitempty"`
}

// keyFields are the config fields that a key file also carries. A request
// gives either key_file or these, never both.
var keyFields = []string{"access_id", "access_key", "admin_rest_api_url", "customer_name", "description"}

func pathConfig(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern: configStoragePrefix + framework.GenericNameRegex("name"),
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: "rsa-cas",
				OperationSuffix: "config",
			},
			Fields: withVerifyFields(map[string]*framework.FieldSchema{
				"name": {
					Type:        framework.TypeString,
					Description: "Name of the config, used by roles to refer to this key.",
					Required:    true,
				},
				"key_file": {
					Type:        framework.TypeString,
					Description: "Contents of the legacy Administration API key file (.key, JSON with accessID, accessKey, adminRestApiUrl, customerName, description) as downloaded from the RSA console. Use key_file=@file.key with the vault CLI. Replaces all key fields.",
					DisplayAttrs: &framework.DisplayAttributes{
						Sensitive: true,
					},
				},
				"access_id": {
					Type:        framework.TypeString,
					Description: "Access ID of the key (accessID in the key file); becomes the JWT sub claim.",
				},
				"access_key": {
					Type:        framework.TypeString,
					Description: "RSA private key of the key in PEM form, PKCS#1 or PKCS#8 (accessKey in the key file). Never returned by reads.",
					DisplayAttrs: &framework.DisplayAttributes{
						Sensitive: true,
					},
				},
				"admin_rest_api_url": {
					Type:        framework.TypeString,
					Description: "Admin REST API base URL (adminRestApiUrl in the key file); used byte for byte as the JWT aud claim. Must be https; http only for loopback hosts.",
				},
				"customer_name": {
					Type:        framework.TypeString,
					Description: "Tenant name (customerName in the key file). Informational.",
				},
				"description": {
					Type:        framework.TypeString,
					Description: "Description typed when the key was created (description in the key file). Informational.",
				},
				"admin_role": {
					Type:          framework.TypeString,
					Description:   "Administrator role the key was created with in the RSA console: help_desk or super_admin. Required on create, because the key file does not record it.",
					AllowedValues: []any{adminRoleHelpDesk, adminRoleSuperAdmin},
				},
				"kind": {
					Type:          framework.TypeString,
					Description:   "Kind of credential: legacy (an API key file) or oauth (an OAuth client). It follows from the fields written; pass it only to replace a config with one of the other kind.",
					AllowedValues: []any{kindLegacy, kindOAuth},
				},
				"issuer_url": {
					Type:        framework.TypeString,
					Description: "OAuth: issuer URL of the client, such as https://<tenant>.auth.securid.com/oauth. Tokens are requested from <issuer_url>/token. Must be https; http only for loopback hosts.",
				},
				"client_id": {
					Type:        framework.TypeString,
					Description: "OAuth: client ID of the OAuth client; the client assertion's iss and sub claims.",
				},
				"private_key": {
					Type:        framework.TypeString,
					Description: "OAuth: private key of the client, as a private JWK (RSA of at least 2048 bits, or EC on P-256) whose kid is the key ID, or as PEM (PKCS#8, PKCS#1 or SEC 1) together with key_id. Use private_key=@client.jwk with the vault CLI. Never returned by reads.",
					DisplayAttrs: &framework.DisplayAttributes{
						Sensitive: true,
					},
				},
				"key_id": {
					Type:        framework.TypeString,
					Description: "OAuth: key ID (kid) of private_key. Required with a PEM key; with a JWK it must equal the kid when given. Only written together with private_key.",
				},
				"scopes": {
					Type:        framework.TypeCommaStringSlice,
					Description: "OAuth: scopes granted to the client in the RSA console, such as rsa.audit.admin,rsa.user.read. Roles on this config request subsets of them.",
				},
				"admin_url": {
					Type:        framework.TypeString,
					Description: "OAuth: the tenant's Admin REST API URL (adminRestApiUrl), such as https://<tenant>.access.securid.com/AdminInterface/restapi, for live checks. Optional; an empty value clears it.",
				},
			}),
			ExistenceCheck: b.configExists,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.CreateOperation: &framework.PathOperation{Callback: b.withValidName(b.pathConfigWrite)},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.withValidName(b.pathConfigWrite)},
				logical.ReadOperation:   &framework.PathOperation{Callback: b.withValidName(b.pathConfigRead)},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.withValidName(b.pathConfigDelete)},
			},
			HelpSynopsis:    pathConfigHelpSynopsis,
			HelpDescription: strings.TrimSpace(pathConfigHelpDescription),
		},
		{
			Pattern: configStoragePrefix + "?$",
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: "rsa-cas",
				OperationSuffix: "configs",
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathConfigList},
			},
			HelpSynopsis:    pathConfigListHelpSynopsis,
			HelpDescription: pathConfigListHelpDescription,
		},
	}
}

func (b *backend) configExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	cfg, err := readConfig(ctx, req.Storage, d.Get("name").(string))

	return cfg != nil, err
}

func readConfig(ctx context.Context, s logical.Storage, name string) (*keyConfig, error) {
	return readEntry[keyConfig](ctx, s, configStoragePrefix, "config", name)
}

func (b *backend) pathConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)

	if msg := unknownFieldsError(req, d); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	b.writeLock.Lock()
	defer b.writeLock.Unlock()

	existing, err := readConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}

	kind, explicit, msg := requestKind(req, d, existing)
	if msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	replaced := existing != nil && existing.kind() != kind
	if replaced {
		users, err := rolesUsingConfig(ctx, req.Storage, name)
		if err != nil {
			return nil, err
		}

		if msg := kindChangeError(req, name, existing, kind, explicit, users); msg != "" {
			return b.badRequest(req, "%s", msg)
		}

		// A config of another kind shares nothing with the old one, so the
		// write must give every field a new config needs.
		existing = nil
	}

	prepare := b.prepareLegacyConfig
	if kind == kindOAuth {
		prepare = b.prepareOAuthConfig
	}

	prepared, msg, err := prepare(ctx, req, d, name, existing)
	if err != nil {
		return nil, err
	}

	if msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	cfg := prepared.config

	var (
		check   *cas.CheckResult
		errResp *logical.Response
	)

	if kind == kindOAuth {
		check, errResp, err = b.verifyOAuthConfigWrite(ctx, req, d, name, prepared)
	} else {
		check, errResp, err = b.verifyConfigWrite(ctx, req, d, name, cfg)
	}

	if err != nil || errResp != nil {
		return errResp, err
	}

	entry, err := logical.StorageEntryJSON(configStoragePrefix+name, cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config %q: %w", name, err)
	}

	err = req.Storage.Put(ctx, entry)

	// A storage call that reported failure may still have landed, so the
	// caches are dropped either way.
	b.signers.drop(name)
	b.tokens.dropConfig(name)

	if err != nil {
		return nil, fmt.Errorf("write config %q: %w", name, err)
	}

	if kind == kindOAuth {
		b.Logger().Info("config written", "config", name, "kind", kind, "client_id", cfg.ClientID, "key_id", cfg.KeyID,
			"public_key_sha256", cfg.Fingerprint, "scopes", strings.Join(cfg.Scopes, " "), "key_replaced", prepared.keyChanged,
			"created", existing == nil && !replaced, "kind_replaced", replaced)
	} else {
		b.Logger().Info("config written", "config", name, "kind", kind, "access_id", cfg.AccessID, "admin_role", cfg.AdminRole,
			"public_key_sha256", cfg.Fingerprint, "key_replaced", prepared.keyChanged, "created", existing == nil && !replaced, "kind_replaced", replaced)
	}

	resp := &logical.Response{Data: configData(cfg)}
	addCheckResult(resp, check)

	for _, warning := range prepared.warnings {
		resp.AddWarning(warning)
	}

	return resp, nil
}

// preparedConfig is a checked config write, ready to be stored.
type preparedConfig struct {
	config     *keyConfig
	keyChanged bool
	warnings   []string
}

// prepareLegacyConfig applies a legacy key write to existing (nil when
// creating). It returns a message for a caller mistake.
func (b *backend) prepareLegacyConfig(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, existing *keyConfig) (*preparedConfig, string, error) {
	update, msg := parseConfigUpdate(d)
	if msg != "" {
		return nil, msg, nil
	}

	cfg, keyChanged, msg := b.applyConfigUpdate(existing, update)
	if msg != "" {
		return nil, msg, nil
	}

	cfg.Kind = kindLegacy

	if existing != nil && existing.AdminRole != cfg.AdminRole {
		users, err := rolesUsingConfig(ctx, req.Storage, name)
		if err != nil {
			return nil, "", err
		}

		if len(users) > 0 {
			return nil, fmt.Sprintf("admin_role of config %q cannot change from %s to %s while roles use it: %s; delete those roles or point them at another config first",
				name, existing.AdminRole, cfg.AdminRole, strings.Join(users, ", ")), nil
		}
	}

	return &preparedConfig{config: cfg, keyChanged: keyChanged, warnings: update.warnings}, "", nil
}

// configData returns what a read or write of cfg shows, by its kind.
func configData(cfg *keyConfig) map[string]any {
	if cfg.kind() == kindOAuth {
		return oauthConfigResponseData(cfg)
	}

	return configResponseData(cfg)
}

func configResponseData(cfg *keyConfig) map[string]any {
	return map[string]any{
		"kind":               kindLegacy,
		"access_id":          cfg.AccessID,
		"admin_rest_api_url": cfg.AdminRestAPIURL,
		"customer_name":      cfg.CustomerName,
		"description":        cfg.Description,
		"admin_role":         cfg.AdminRole,
		"key_bits":           cfg.KeyBits,
		"public_key_sha256":  cfg.Fingerprint,
		"created_at":         cfg.CreatedAt.Format(time.RFC3339),
		"updated_at":         cfg.UpdatedAt.Format(time.RFC3339),
		"key_updated_at":     cfg.KeyUpdatedAt.Format(time.RFC3339),
		"ca_certificate":     cfg.CACertificate,
	}
}

func (b *backend) pathConfigRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if msg := unknownFieldsError(req, d); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	cfg, err := readConfig(ctx, req.Storage, d.Get("name").(string))
	if err != nil || cfg == nil {
		return nil, err
	}

	// The private key is left out on purpose: the fingerprint identifies the
	// key without revealing it.
	return &logical.Response{Data: configData(cfg)}, nil
}

func (b *backend) pathConfigDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)

	b.writeLock.Lock()
	defer b.writeLock.Unlock()

	users, err := rolesUsingConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}

	if len(users) > 0 {
		return b.badRequest(req, "config %q is used by roles %s; delete those roles or point them at another config first",
			name, strings.Join(users, ", "))
	}

	err = req.Storage.Delete(ctx, configStoragePrefix+name)

	// A storage call that reported failure may still have landed, so the
	// caches are dropped either way.
	b.signers.drop(name)
	b.tokens.dropConfig(name)

	if err != nil {
		return nil, fmt.Errorf("delete config %q: %w", name, err)
	}

	b.Logger().Info("config deleted", "config", name)

	return nil, nil
}

func (b *backend) pathConfigList(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, configStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}

	return logical.ListResponse(names), nil
}

// loadKey returns the config called name with its key parsed, from the
// cache when possible. It returns nil when the config does not exist.
func (b *backend) loadKey(ctx context.Context, s logical.Storage, name string) (*cachedKey, error) {
	// Callers that arrive during the load share its result, so one caller
	// giving up must not cancel the load for the others.
	loadCtx := context.WithoutCancel(ctx)

	return b.signers.get(name, func() (*cachedKey, error) {
		cfg, err := readConfig(loadCtx, s, name)
		if err != nil || cfg == nil {
			return nil, err
		}

		if cfg.kind() == kindOAuth {
			return b.loadOAuthKey(name, cfg)
		}

		key, err := cas.ParsePrivateKey("stored private key", cfg.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("parse stored key of config %q: %w", name, err)
		}

		client, err := b.newHTTPClient(cfg.CACertificate)
		if err != nil {
			return nil, fmt.Errorf("HTTP client for config %q: %w", name, err)
		}

		b.Logger().Debug("parsed and cached key", "config", name, "access_id", cfg.AccessID)

		return &cachedKey{config: cfg, signer: cas.NewSigner(cfg.AccessID, cfg.AdminRestAPIURL, key), client: client}, nil
	})
}
