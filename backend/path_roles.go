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

const (
	roleStoragePrefix = "roles/"

	pathRolesHelpSynopsis = `Manage roles that issue CAS Administration API tokens.`

	pathRolesHelpDescription = `
A role names the config (key) whose tokens it issues and the administrator
role it expects that key to have. The two must match: a help_desk role can only
use a help_desk key and a super_admin role only a super_admin key, so a Vault
policy on creds/<role> decides who may act with which power.

ttl is the token life when the request gives none; max_ttl caps what a request
may ask for. CAS accepts tokens of at most one hour, so both are limited to
59m, one minute below it to allow for clock skew.

A role on an OAuth client config has no admin_role or ttl. Its scopes, a
non-empty subset of the config's scopes, are its power, and CAS sets the token
life. The role's access token is cached in memory and handed out while it has
more than min_remaining_ttl left (default 2m); max_ttl caps the lease. Moving a
role to a config of the other kind drops the old kind's settings, so the write
must name the new kind's: scopes, or admin_role.
`

	pathRolesListHelpSynopsis    = `List the names of roles.`
	pathRolesListHelpDescription = `Lists the role names under roles/.`
)

// MinTTL is the shortest token life a role or request may set. A shorter
// token would expire before most callers could use it.
const MinTTL = 10 * time.Second

type roleEntry struct {
	Config    string        `json:"config"`
	AdminRole string        `json:"admin_role"`
	TTL       time.Duration `json:"ttl"`
	MaxTTL    time.Duration `json:"max_ttl"`

	// Scopes and MinRemainingTTL are set only on roles of OAuth configs,
	// which have no AdminRole or TTL. MinRemainingTTL 0 means
	// DefaultMinRemainingTTL.
	Scopes          []string      `json:"scopes,omitempty"`
	MinRemainingTTL time.Duration `json:"min_remaining_ttl,omitempty"`
}

func pathRoles(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern: roleStoragePrefix + framework.GenericNameRegex("name"),
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: "rsa-cas",
				OperationSuffix: "role",
			},
			Fields: map[string]*framework.FieldSchema{
				"name": {
					Type:        framework.TypeString,
					Description: "Name of the role; tokens are read from creds/<name>.",
					Required:    true,
				},
				"config": {
					Type:        framework.TypeString,
					Description: "Name of the config (key) under config/ whose tokens this role issues. Required on create.",
				},
				"admin_role": {
					Type:          framework.TypeString,
					Description:   "Legacy configs: administrator role this role grants, help_desk or super_admin. Must equal the config's admin_role. Required on create. Rejected on OAuth configs, whose power is their scopes.",
					AllowedValues: []any{adminRoleHelpDesk, adminRoleSuperAdmin},
				},
				"ttl": {
					Type:        framework.TypeDurationSecond,
					Description: fmt.Sprintf("Legacy configs: token life when the request sets none, in seconds or as a duration such as 15m. Between %s and %s; 0 or unset uses the mount's default lease TTL when it is within that range, else %s. Rejected on OAuth configs, where CAS sets the token life.", formatDuration(MinTTL), formatDuration(cas.MaxTTL), formatDuration(DefaultTTL)),
				},
				"max_ttl": {
					Type:        framework.TypeDurationSecond,
					Description: fmt.Sprintf("Longest token life a request may ask for (legacy configs), or longest lease on an access token (OAuth configs), in seconds or as a duration. Between %s and %s; 0 or unset means no role cap.", formatDuration(MinTTL), formatDuration(cas.MaxTTL)),
				},
				"scopes": {
					Type:        framework.TypeCommaStringSlice,
					Description: "OAuth configs: scopes the role's access tokens carry, such as rsa.audit.admin,rsa.user.read. A non-empty subset of the config's scopes. Required on roles of OAuth configs; rejected on legacy configs.",
				},
				"min_remaining_ttl": {
					Type:        framework.TypeDurationSecond,
					Description: fmt.Sprintf("OAuth configs: a cached access token is handed out only while it has more than this much life left; after that a new token is requested. In seconds or as a duration; between %s and %s, and below the token life CAS grants. 0 or unset means %s. Rejected on legacy configs.", formatDuration(MinTTL), formatDuration(MaxMinRemainingTTL), formatDuration(DefaultMinRemainingTTL)),
				},
			},
			ExistenceCheck: b.roleExists,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.CreateOperation: &framework.PathOperation{Callback: b.withValidName(b.pathRoleWrite)},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.withValidName(b.pathRoleWrite)},
				logical.ReadOperation:   &framework.PathOperation{Callback: b.withValidName(b.pathRoleRead)},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.withValidName(b.pathRoleDelete)},
			},
			HelpSynopsis:    pathRolesHelpSynopsis,
			HelpDescription: strings.TrimSpace(pathRolesHelpDescription),
		},
		{
			Pattern: roleStoragePrefix + "?$",
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: "rsa-cas",
				OperationSuffix: "roles",
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathRoleList},
			},
			HelpSynopsis:    pathRolesListHelpSynopsis,
			HelpDescription: pathRolesListHelpDescription,
		},
	}
}

func (b *backend) roleExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	role, err := readRole(ctx, req.Storage, d.Get("name").(string))

	return role != nil, err
}

func readRole(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	return readEntry[roleEntry](ctx, s, roleStoragePrefix, "role", name)
}

// rolesUsingConfig returns the sorted names of roles whose config is name.
func rolesUsingConfig(ctx context.Context, s logical.Storage, name string) ([]string, error) {
	roleNames, err := s.List(ctx, roleStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}

	var users []string

	for _, roleName := range roleNames {
		role, err := readRole(ctx, s, roleName)
		if err != nil {
			return nil, err
		}

		if role != nil && role.Config == name {
			users = append(users, roleName)
		}
	}

	slices.Sort(users)

	return users, nil
}

func (b *backend) pathRoleWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)

	if msg := unknownFieldsError(req, d); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	b.writeLock.Lock()
	defer b.writeLock.Unlock()

	existing, err := readRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}

	role := &roleEntry{}
	if existing != nil {
		copied := *existing
		role = &copied
	}

	if value, ok := d.GetOk("config"); ok {
		role.Config = value.(string)
	}

	if msg := nameError("config", role.Config); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	if role.Config == "" {
		return b.badRequest(req, "config is missing; name the config (key) this role issues tokens for, as listed by vault list %sconfig", mountPath(req))
	}

	cfg, err := readConfig(ctx, req.Storage, role.Config)
	if err != nil {
		return nil, err
	}

	if cfg == nil {
		adminRole, _ := d.Get("admin_role").(string)

		return b.badRequest(req, "config %q not found; write it first with vault write %sconfig/%s key_file=@file.key admin_role=%s, or with the fields of an OAuth client",
			role.Config, mountPath(req), role.Config, orPlaceholder(adminRole, "<admin_role>"))
	}

	// A role moved to a config of the other kind keeps none of the old
	// kind's settings, and must state the new kind's.
	if msg := roleKindFieldsError(req, role.Config, cfg); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	if cfg.kind() == kindOAuth {
		role.AdminRole, role.TTL = "", 0
	} else {
		role.Scopes, role.MinRemainingTTL = nil, 0
	}

	if msg := applyRoleFields(role, d); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	if cfg.kind() == kindOAuth {
		if msg := applyOAuthRoleFields(role, d, cfg); msg != "" {
			return b.badRequest(req, "%s", msg)
		}
	} else {
		if role.AdminRole == "" {
			return b.badRequest(req, "admin_role is missing; state the administrator role this role grants, %s or %s, so a role can never silently sign with a more powerful key",
				adminRoleHelpDesk, adminRoleSuperAdmin)
		}

		if cfg.AdminRole != role.AdminRole {
			return b.badRequest(req, "admin_role %s does not match config %q, which holds a %s key; use a config with a %s key or set admin_role=%s",
				role.AdminRole, role.Config, cfg.AdminRole, role.AdminRole, cfg.AdminRole)
		}
	}

	entry, err := logical.StorageEntryJSON(roleStoragePrefix+name, role)
	if err != nil {
		return nil, fmt.Errorf("encode role %q: %w", name, err)
	}

	err = req.Storage.Put(ctx, entry)

	// A storage call that reported failure may still have landed, so the
	// caches are dropped either way.
	b.tokens.dropRole(name)
	b.roles.drop(name)

	if err != nil {
		return nil, fmt.Errorf("write role %q: %w", name, err)
	}

	b.Logger().Info("role written", "role", name, "config", role.Config, "admin_role", role.AdminRole,
		"scopes", strings.Join(role.Scopes, " "), "ttl", role.TTL.String(), "max_ttl", role.MaxTTL.String(),
		"min_remaining_ttl", role.MinRemainingTTL.String(), "created", existing == nil)

	return nil, nil
}

// applyRoleFields copies the request's admin_role, ttl and max_ttl onto
// role and checks the TTLs.
func applyRoleFields(role *roleEntry, d *framework.FieldData) string {
	if value, ok := d.GetOk("admin_role"); ok {
		role.AdminRole = value.(string)
		if msg := adminRoleError(role.AdminRole); msg != "" {
			return msg
		}
	}

	for _, field := range []struct {
		name   string
		target *time.Duration
	}{
		{"ttl", &role.TTL},
		{"max_ttl", &role.MaxTTL},
	} {
		value, ok, msg := durationField(d, field.name)
		if msg != "" {
			return msg
		}

		if !ok {
			continue
		}

		if msg := roleTTLError(field.name, value); msg != "" {
			return msg
		}

		*field.target = value
	}

	if role.MaxTTL > 0 && role.TTL > role.MaxTTL {
		return fmt.Sprintf("ttl %s is longer than max_ttl %s; lower ttl or raise max_ttl", formatDuration(role.TTL), formatDuration(role.MaxTTL))
	}

	return ""
}

// roleTTLError checks a role duration; 0 means unset.
func roleTTLError(field string, value time.Duration) string {
	switch {
	case value == 0:
		return ""
	case value < MinTTL:
		return fmt.Sprintf("%s %s is shorter than %s; use 0 for the default or at least %s", field, formatDuration(value), formatDuration(MinTTL), formatDuration(MinTTL))
	case value > cas.MaxTTL:
		return fmt.Sprintf("%s %s is longer than %s; CAS rejects tokens that live more than 1h, and %s leaves a minute for clock skew",
			field, formatDuration(value), formatDuration(cas.MaxTTL), formatDuration(cas.MaxTTL))
	default:
		return ""
	}
}

func (b *backend) pathRoleRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if msg := unknownFieldsError(req, d); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	role, err := readRole(ctx, req.Storage, d.Get("name").(string))
	if err != nil || role == nil {
		return nil, err
	}

	if len(role.Scopes) > 0 {
		return &logical.Response{Data: oauthRoleData(role)}, nil
	}

	return &logical.Response{Data: map[string]any{
		"config":     role.Config,
		"admin_role": role.AdminRole,
		"ttl":        int64(role.TTL / time.Second),
		"max_ttl":    int64(role.MaxTTL / time.Second),
	}}, nil
}

func (b *backend) pathRoleDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)

	b.writeLock.Lock()
	defer b.writeLock.Unlock()

	err := req.Storage.Delete(ctx, roleStoragePrefix+name)

	// A storage call that reported failure may still have landed, so the
	// caches are dropped either way.
	b.tokens.dropRole(name)
	b.roles.drop(name)

	if err != nil {
		return nil, fmt.Errorf("delete role %q: %w", name, err)
	}

	b.Logger().Info("role deleted", "role", name)

	return nil, nil
}

func (b *backend) pathRoleList(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, roleStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}

	return logical.ListResponse(names), nil
}
