package backend

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// privateKeyFields are the request fields meant to hold private keys. Their
// parsers never quote them. ca_certificate is not one of them, but its own
// check rejects a private key block without quoting it.
var privateKeyFields = []string{"key_file", "access_key", "private_key", "ca_certificate"}

// HandleExistenceCheck rejects a request with a private key in the wrong
// field before the framework converts the fields, because the framework's
// conversion errors quote the value (`invalid duration "-----BEGIN ...`) and
// Vault logs them.
func (b *backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	if field := misplacedKeyField(req.Data); field != "" {
		// Not found: Vault then sends the request as an update, which
		// HandleRequest rejects with a message.
		return false, false, nil
	}

	return b.Backend.HandleExistenceCheck(ctx, req)
}

// HandleRequest rejects a request that carries a private key in a field
// that messages, logs or reads echo, such as a JWK pasted into scopes or a
// PEM key given as config. Every path echoes some field, so the check runs
// before any of them.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if field := misplacedKeyField(req.Data); field != "" {
		return b.badRequest(req, "%s contains a private key; private keys go only in key_file or access_key (legacy keys) and private_key (OAuth clients), so pass the key there and %s here", field, describeField(field))
	}

	return b.Backend.HandleRequest(ctx, req)
}

// misplacedKeyField returns the first field, in name order, that is not a
// key field and contains text that looks like a private key, or "".
func misplacedKeyField(data map[string]any) string {
	names := make([]string, 0, len(data))
	for name := range data {
		names = append(names, name)
	}

	sort.Strings(names)

	for _, name := range names {
		if slices.Contains(privateKeyFields, name) {
			continue
		}

		if looksLikePrivateKey(data[name]) {
			return name
		}
	}

	return ""
}

// looksLikePrivateKey reports whether a request value, a string or a list
// of them, contains a PEM private key block or a JWK's private parameter "d".
func looksLikePrivateKey(value any) bool {
	switch v := value.(type) {
	case string:
		return strings.Contains(v, "PRIVATE KEY") || strings.Contains(v, `"d"`)
	case []string:
		return slices.ContainsFunc(v, func(s string) bool { return looksLikePrivateKey(s) })
	case []any:
		return slices.ContainsFunc(v, looksLikePrivateKey)
	case map[string]any:
		if _, private := v["d"]; private {
			return true
		}

		for _, inner := range v {
			if looksLikePrivateKey(inner) {
				return true
			}
		}

		return false
	default:
		return false
	}
}

// describeField returns what belongs in a field, for the message.
func describeField(field string) string {
	switch field {
	case "scopes":
		return "scope names such as rsa.audit.admin"
	case "config":
		return "a config name"
	default:
		return "the " + field + " value"
	}
}
