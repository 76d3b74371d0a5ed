package cas

import (
	"strings"
	"unicode/utf8"
)

// maxScopeLength bounds one scope. CAS scopes such as rsa.user.risky.manage
// are far shorter; the bound catches a pasted paragraph.
const maxScopeLength = 256

// ValidateScopes checks a list of OAuth scopes. Each must be a non-empty
// scope-token as RFC 6749 section 3.3 defines it (printable ASCII without
// space, '"' and '\'), listed once. Invisible characters get a message of
// their own, because they are the usual cause: one public CAS client copied
// U+FFFC from RSA's documentation into its scope list.
func ValidateScopes(field string, scopes []string) error {
	if len(scopes) == 0 {
		return fieldErrorf(field, "is empty; name at least one scope, such as rsa.audit.admin")
	}

	seen := make(map[string]bool, len(scopes))

	for i, scope := range scopes {
		if err := validateScope(field, i, scope); err != nil {
			return err
		}

		if seen[scope] {
			return fieldErrorf(field, "lists scope %q twice; list each scope once", scope)
		}

		seen[scope] = true
	}

	return nil
}

func validateScope(field string, index int, scope string) error {
	if scope == "" {
		return fieldErrorf(field, "has an empty scope at position %d; remove the extra separator", index+1)
	}

	if len(scope) > maxScopeLength {
		return fieldErrorf(field, "has a scope of %d bytes at position %d; scopes are at most %d bytes", len(scope), index+1, maxScopeLength)
	}

	if !utf8.ValidString(scope) {
		return fieldErrorf(field, "has a scope at position %d that is not valid UTF-8; retype it", index+1)
	}

	if i := strings.IndexFunc(scope, isHiddenRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(scope[i:])

		hint := "retype the scope"
		if r == ' ' || r == '\t' || r == '\n' {
			hint = "give each scope as its own list item, such as scopes=rsa.audit.admin,rsa.user.read"
		}

		return fieldErrorf(field, "scope %q contains %s at byte %d; %s", scope, describeRune(r), i, hint)
	}

	for i, r := range scope {
		if !isScopeTokenRune(r) {
			return fieldErrorf(field, "scope %q contains %q at byte %d, which OAuth scopes cannot contain (RFC 6749 allows printable ASCII without spaces, '\"' and '\\'); retype the scope",
				scope, r, i)
		}
	}

	return nil
}

// isScopeTokenRune reports whether r may appear in an RFC 6749
// scope-token: %x21 / %x23-5B / %x5D-7E.
func isScopeTokenRune(r rune) bool {
	return r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E)
}

// JoinScopes returns scopes as the space-separated scope parameter of a
// token request.
func JoinScopes(scopes []string) string {
	return strings.Join(scopes, " ")
}

// MissingScopes returns the scopes of requested that granted does not
// contain, in the order of requested.
func MissingScopes(requested, granted []string) []string {
	grantedSet := make(map[string]bool, len(granted))
	for _, scope := range granted {
		grantedSet[scope] = true
	}

	var missing []string

	for _, scope := range requested {
		if !grantedSet[scope] {
			missing = append(missing, scope)
		}
	}

	return missing
}
