package cas

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// KindTokenRejected is the FailureKind of a token request that CAS refused
// for good (TokenError.Rejected), such as invalid_client or invalid_scope.
const KindTokenRejected FailureKind = "token_rejected"

// Scopes that the cheap Admin API calls of CheckToken and CheckHighRisk
// need from an OAuth access token.
const (
	ScopeAuditAdmin    = "rsa.audit.admin"
	ScopeUserRiskyRead = "rsa.user.risky.read"
)

// TokenRequestResult describes a failed RequestAccessToken call as the
// result of a live check of tokenURL: a TokenError by its status, anything
// else by its network cause.
func TokenRequestResult(ctx context.Context, tokenURL string, err error) CheckResult {
	var tokenErr *TokenError
	if !errors.As(err, &tokenErr) {
		return CheckResult{Kind: classifyNetworkError(ctx, err), Message: networkMessage(err), URL: tokenURL}
	}

	result := CheckResult{Status: tokenErr.StatusCode, URL: tokenErr.TokenURL}

	switch {
	case tokenErr.Rejected():
		result.Kind = KindTokenRejected
	case tokenErr.StatusCode == http.StatusTooManyRequests:
		result.Kind = KindRateLimited
	case tokenErr.StatusCode == http.StatusRequestTimeout:
		result.Kind = KindTimeout
	case tokenErr.StatusCode >= 500:
		result.Kind = KindServerError
	default:
		result.Kind = KindUnexpectedResponse
	}

	parts := make([]string, 0, 3)
	for _, part := range []string{tokenErr.Code, tokenErr.Description, tokenErr.Reason} {
		if part != "" {
			parts = append(parts, part)
		}
	}

	result.Message = strings.Join(parts, ": ")

	return result
}
