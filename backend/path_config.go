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

	pathConfigHelpSynopsis = `Manage RSA CAS Administration API keys.`

	pathConfigHelpDescription = `
Stores one legacy Administration API key per name. Pass the .key file that the
RSA console downloaded as key_file, or its fields one by one (access_id,
access_key, admin_rest_api_url, customer_name, description). The file does not
record the administrator role the key was created with, so admin_role is
required: help_desk or super_admin.

Reads never return the private key. They return the key's size and the
SHA-256 fingerprint of its public key instead. Storage is seal-wrapped where
Vault supports it.

A config that roles still use cannot be deleted, and its admin_role cannot
change while roles use it.

With verify=true the write first mints a token and calls the CAS Admin API
with it. If CAS rejects the token or cannot be reached, the write fails with
the reason and storage is left as it was. ca_certificate adds CA certificates
to trust for HTTPS to CAS.
`

	pathConfigListHelpSynopsis    = `List the names of stored CAS keys.`
	pathConfigListHelpDescription = `Lists the config names under config/.`
)

// keyConfig is the stored form of one legacy key.
type keyConfig struct {
	AccessID        string    `json:"access_id"`
	PrivateKey      string    `json:"private_key"` // PKCS#1 PEM
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

	update, msg := parseConfigUpdate(d)
	if msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	b.writeLock.Lock()
	defer b.writeLock.Unlock()

	existing, err := readConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}

	cfg, keyChanged, msg := b.applyConfigUpdate(existing, update)
	if msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	if existing != nil && existing.AdminRole != cfg.AdminRole {
		users, err := rolesUsingConfig(ctx, req.Storage, name)
		if err != nil {
			return nil, err
		}

		if len(users) > 0 {
			return b.badRequest(req, "admin_role of config %q cannot change from %s to %s while roles use it: %s; delete those roles or point them at another config first",
				name, existing.AdminRole, cfg.AdminRole, strings.Join(users, ", "))
		}
	}

	check, errResp, err := b.verifyConfigWrite(ctx, req, d, name, cfg)
	if err != nil || errResp != nil {
		return errResp, err
	}

	entry, err := logical.StorageEntryJSON(configStoragePrefix+name, cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config %q: %w", name, err)
	}

	if err := req.Storage.Put(ctx, entry); err != nil {
		return nil, fmt.Errorf("write config %q: %w", name, err)
	}

	b.signers.drop(name)

	b.Logger().Info("config written", "config", name, "access_id", cfg.AccessID, "admin_role", cfg.AdminRole,
		"public_key_sha256", cfg.Fingerprint, "key_replaced", keyChanged, "created", existing == nil)

	resp := &logical.Response{Data: configResponseData(cfg)}
	addCheckResult(resp, check)

	for _, warning := range update.warnings {
		resp.AddWarning(warning)
	}

	return resp, nil
}

func configResponseData(cfg *keyConfig) map[string]any {
	return map[string]any{
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
	return &logical.Response{Data: configResponseData(cfg)}, nil
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

	if err := req.Storage.Delete(ctx, configStoragePrefix+name); err != nil {
		return nil, fmt.Errorf("delete config %q: %w", name, err)
	}

	b.signers.drop(name)
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
