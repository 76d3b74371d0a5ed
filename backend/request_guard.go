package backend

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-secure-stdlib/parseutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// privateKeyFields are the request fields meant to hold private keys. Their
// parsers never quote them. ca_certificate is not one of them, but its own
// check rejects a private key block without quoting it.
var privateKeyFields = []string{"key_file", "access_key", "private_key", "ca_certificate"}

// durationFields are the request fields of type TypeDurationSecond. No path
// uses these names for anything else, and on paths without them they are
// rejected as unknown fields anyway.
var durationFields = []string{"ttl", "max_ttl", "min_remaining_ttl"}

// HandleExistenceCheck skips the existence check of a request that
// HandleRequest rejects. The framework converts the fields for the check,
// and Vault logs its conversion errors at ERROR with the value quoted
// (`invalid duration "-----BEGIN ...`).
func (b *backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	if requestProblem(req.Data) != "" {
		// Not found: Vault then sends the request as an update, which
		// HandleRequest rejects with a message.
		return false, false, nil
	}

	return b.Backend.HandleExistenceCheck(ctx, req)
}

// HandleRequest rejects a request that carries a private key in a field
// that messages, logs or reads echo, such as a JWK pasted into scopes or a
// PEM key given as config, and a duration that does not parse. Every path
// echoes some field, so the checks run before any of them.
//
// Revoke and renew requests carry the data of the response that created the
// lease, not caller input, and a revoke that failed would block vault
// secrets disable, so they skip the checks.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if req.Operation == logical.RevokeOperation || req.Operation == logical.RenewOperation {
		return b.Backend.HandleRequest(ctx, req)
	}

	if problem := requestProblem(req.Data); problem != "" {
		return b.badRequest(req, "%s", problem)
	}

	return b.Backend.HandleRequest(ctx, req)
}

// requestProblem returns the message for the first field that the guard
// rejects, or "".
func requestProblem(data map[string]any) string {
	if field := misplacedKeyField(data); field != "" {
		return fmt.Sprintf("%s contains a private key; private keys go only in key_file or access_key (legacy keys) and private_key (OAuth clients), so pass the key there and %s here", field, describeField(field))
	}

	for _, field := range durationFields {
		value, ok := data[field]
		if !ok {
			continue
		}

		// The SDK's own conversion rejects the same values, but with a
		// message that gives no fix.
		if _, err := parseutil.ParseDurationSecond(value); err != nil {
			return fmt.Sprintf("%s %q is not a duration; use seconds such as 900 or a Go duration such as 15m", field, fmt.Sprint(value))
		}
	}

	return ""
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
