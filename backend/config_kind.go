package backend

import (
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// Kinds of config. A config holds either a legacy Administration API key,
// which signs its own JWTs, or an OAuth Administration API client, which
// exchanges a signed client assertion for an access token at CAS.
const (
	kindLegacy = "legacy"
	kindOAuth  = "oauth"
)

// Request fields that only one kind of config has. The shared field kind
// is in neither list.
var (
	legacyConfigFields = []string{"key_file", "access_id", "access_key", "admin_rest_api_url", "customer_name", "description", "admin_role"}
	oauthConfigFields  = []string{"issuer_url", "client_id", "private_key", "key_id", "scopes", "admin_url"}
)

// kind returns the config's kind. Entries written before OAuth support
// have no kind and hold legacy keys.
func (c *keyConfig) kind() string {
	if c.Kind == "" {
		return kindLegacy
	}

	return c.Kind
}

// givenFields returns the fields of names that the request carries, in the
// order of names.
func givenFields(req *logical.Request, names []string) []string {
	var given []string

	for _, name := range names {
		if _, ok := req.Data[name]; ok {
			given = append(given, name)
		}
	}

	return given
}

// requestKind decides which kind of config a write is for: the kind field
// when given, else the kind whose fields the request carries, else the
// existing config's kind, else legacy. It returns a message when the
// request mixes the fields of both kinds or contradicts its kind field.
// explicit reports whether the request named the kind.
func requestKind(req *logical.Request, d *framework.FieldData, existing *keyConfig) (kind string, explicit bool, msg string) {
	legacy := givenFields(req, legacyConfigFields)
	oauth := givenFields(req, oauthConfigFields)

	if len(legacy) > 0 && len(oauth) > 0 {
		return "", false, fmt.Sprintf("fields %s belong to legacy keys and %s to OAuth clients; a config holds one kind, so write either the legacy fields (%s) or the OAuth fields (%s)",
			strings.Join(legacy, ", "), strings.Join(oauth, ", "), strings.Join(legacyConfigFields, ", "), strings.Join(oauthConfigFields, ", "))
	}

	fromFields := ""

	switch {
	case len(legacy) > 0:
		fromFields = kindLegacy
	case len(oauth) > 0:
		fromFields = kindOAuth
	}

	if value, ok := d.GetOk("kind"); ok {
		kind = value.(string)
		if kind != kindLegacy && kind != kindOAuth {
			return "", false, fmt.Sprintf("kind %q is invalid; use %s for a legacy API key file or %s for an OAuth client", kind, kindLegacy, kindOAuth)
		}

		if fromFields != "" && fromFields != kind {
			fields := legacy
			if fromFields == kindOAuth {
				fields = oauth
			}

			return "", false, fmt.Sprintf("kind is %s, but fields %s belong to %s configs; pass the fields of a %s config", kind, strings.Join(fields, ", "), kindName(fromFields), kind)
		}

		return kind, true, ""
	}

	switch {
	case fromFields != "":
		return fromFields, false, ""
	case existing != nil:
		return existing.kind(), false, ""
	default:
		return kindLegacy, false, ""
	}
}

// kindChangeError returns a message when a write would turn existing into
// a config of another kind without saying so, or while roles use it.
func kindChangeError(req *logical.Request, name string, existing *keyConfig, kind string, explicit bool, users []string) string {
	if !explicit {
		return fmt.Sprintf("config %q holds %s, and this write has only %s fields; to replace it with %s, write kind=%s with all its fields, or write the new client to another config name",
			name, kindArticle(existing.kind()), kindName(kind), kindArticle(kind), kind)
	}

	if len(users) > 0 {
		return fmt.Sprintf("config %q cannot change from %s to %s while roles use it: %s; point those roles at another config or delete them first (vault write %sroles/<role> config=<other>)",
			name, existing.kind(), kind, strings.Join(users, ", "), mountPath(req))
	}

	return ""
}

// kindName names a kind in messages.
func kindName(kind string) string {
	if kind == kindOAuth {
		return "OAuth client"
	}

	return "legacy key"
}

// kindArticle names a kind with its article, such as "an OAuth client".
func kindArticle(kind string) string {
	if kind == kindOAuth {
		return "an OAuth client"
	}

	return "a legacy key"
}
