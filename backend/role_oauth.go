package backend

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// DefaultMinRemainingTTL is how much life a cached access token must have
// left to be handed out, when the role does not set min_remaining_ttl. Two
// minutes cover one Admin API call with retries (a few attempts of at most
// ten seconds each, plus backoff) with room to spare, so a caller never
// gets a token that expires under it. They cost little: with CAS's default
// one-hour tokens, a role requests one token every 58 minutes instead of
// every 60.
const DefaultMinRemainingTTL = 2 * time.Minute

// MaxMinRemainingTTL bounds min_remaining_ttl. It only catches unit
// mistakes such as 120h. The real bound is the token life CAS grants,
// which the engine learns only from a token response.
const MaxMinRemainingTTL = 12 * time.Hour

// Role fields that only one kind of config uses.
var (
	legacyRoleFields = []string{"admin_role", "ttl"}
	oauthRoleFields  = []string{"scopes", "min_remaining_ttl"}
)

// minRemaining returns the role's effective min_remaining_ttl.
func (r *roleEntry) minRemaining() time.Duration {
	if r.MinRemainingTTL > 0 {
		return r.MinRemainingTTL
	}

	return DefaultMinRemainingTTL
}

// roleKindFieldsError returns a message when the request sets role fields
// that the kind of cfg does not use, or "".
func roleKindFieldsError(req *logical.Request, configName string, cfg *keyConfig) string {
	if cfg.kind() == kindOAuth {
		if given := givenFields(req, legacyRoleFields); len(given) > 0 {
			return fmt.Sprintf("%s %s only to roles on legacy configs; config %q is an OAuth client, whose power is the scopes a role requests (scopes=...) and whose token life CAS sets",
				strings.Join(given, " and "), applyVerb(given), configName)
		}

		return ""
	}

	if given := givenFields(req, oauthRoleFields); len(given) > 0 {
		return fmt.Sprintf("%s %s only to roles on OAuth configs; config %q holds a legacy key, whose power is its admin_role (admin_role=%s)",
			strings.Join(given, " and "), applyVerb(given), configName, cfg.AdminRole)
	}

	return ""
}

// applyVerb returns the verb that agrees with a list of field names.
func applyVerb(fields []string) string {
	if len(fields) == 1 {
		return "applies"
	}

	return "apply"
}

// applyOAuthRoleFields copies the request's scopes and min_remaining_ttl
// onto a role of the OAuth config cfg and checks the result against cfg.
func applyOAuthRoleFields(role *roleEntry, d *framework.FieldData, cfg *keyConfig) string {
	raw, ok, err := d.GetOkErr("scopes")
	if err != nil {
		return "scopes is not a list of strings; pass scopes=rsa.audit.admin,rsa.user.read or a JSON array"
	}

	if ok {
		scopes := raw.([]string)
		if err := cas.ValidateScopes("scopes", scopes); err != nil {
			return err.Error()
		}

		role.Scopes = scopes
	}

	if len(role.Scopes) == 0 {
		return fmt.Sprintf("scopes is missing; name the scopes this role's tokens carry, a subset of the scopes of config %q: %s",
			role.Config, strings.Join(cfg.Scopes, ","))
	}

	if missing := cas.MissingScopes(role.Scopes, cfg.Scopes); len(missing) > 0 {
		return fmt.Sprintf("scopes %s are not granted to config %q, which has %s; request only those, or grant the scope to the client in the RSA console and add it to the config's scopes",
			strings.Join(missing, ","), role.Config, strings.Join(cfg.Scopes, ","))
	}

	value, ok, msg := durationField(d, "min_remaining_ttl")
	if msg != "" {
		return msg
	}

	if !ok {
		return ""
	}

	switch {
	case value == 0:
	case value < MinTTL:
		return fmt.Sprintf("min_remaining_ttl %s is shorter than %s; a token with less life left expires before most callers can use it, so use 0 for the default %s or at least %s",
			formatDuration(value), formatDuration(MinTTL), formatDuration(DefaultMinRemainingTTL), formatDuration(MinTTL))
	case value > MaxMinRemainingTTL:
		return fmt.Sprintf("min_remaining_ttl %s is longer than %s; it must stay below the life of the access tokens CAS grants, or every read requests a new token",
			formatDuration(value), formatDuration(MaxMinRemainingTTL))
	}

	role.MinRemainingTTL = value

	return ""
}

// oauthRoleData returns the fields that a read of a role on an OAuth config
// shows. min_remaining_ttl is the effective value, the default when unset.
func oauthRoleData(role *roleEntry) map[string]any {
	return map[string]any{
		"config":            role.Config,
		"scopes":            append([]string{}, role.Scopes...),
		"min_remaining_ttl": int64(role.minRemaining() / time.Second),
		"max_ttl":           int64(role.MaxTTL / time.Second),
	}
}

// orPlaceholder returns value, or placeholder when value is empty.
func orPlaceholder(value, placeholder string) string {
	if value == "" {
		return placeholder
	}

	return value
}
