package cas_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

func TestTokenRequestResult(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		status      int
		body        string
		wantKind    cas.FailureKind
		wantMessage string
	}{
		{"invalid client", http.StatusUnauthorized, `{"error":"invalid_client","error_description":"unknown client"}`, cas.KindTokenRejected, "invalid_client: unknown client"},
		{"invalid scope", http.StatusBadRequest, `{"error":"invalid_scope"}`, cas.KindTokenRejected, "invalid_scope"},
		{"rate limited", http.StatusTooManyRequests, `{"error":"temporarily_unavailable"}`, cas.KindRateLimited, "temporarily_unavailable"},
		{"server error", http.StatusInternalServerError, "", cas.KindServerError, "empty body"},
		{"unusable success", http.StatusOK, `{"token_type":"Bearer"}`, cas.KindUnexpectedResponse, "the body has no access_token"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ts := newTokenServer(t, tt.status, tt.body)

			_, err := requestToken(t, ts, parseOAuthKey(t, ecKey()), "rsa.audit.admin")
			if err == nil {
				t.Fatal("RequestAccessToken succeeded, want an error")
			}

			result := cas.TokenRequestResult(t.Context(), ts.issuer()+"/token", err)

			if result.OK || result.Kind != tt.wantKind || result.Status != tt.status {
				t.Errorf("result = OK %t, kind %q, status %d; want kind %q, status %d", result.OK, result.Kind, result.Status, tt.wantKind, tt.status)
			}

			if result.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", result.Message, tt.wantMessage)
			}

			if result.URL != ts.issuer()+"/token" {
				t.Errorf("URL = %q, want the token endpoint", result.URL)
			}
		})
	}
}

func TestTokenRequestResultNetwork(t *testing.T) {
	t.Parallel()

	ts := newTokenServer(t, http.StatusOK, "{}")
	ts.Close()

	_, err := requestToken(t, ts, parseOAuthKey(t, ecKey()), "rsa.audit.admin")
	if err == nil {
		t.Fatal("RequestAccessToken succeeded against a closed server")
	}

	result := cas.TokenRequestResult(t.Context(), ts.issuer()+"/token", err)
	if result.Kind != cas.KindConnection || result.Status != 0 || result.Message == "" {
		t.Errorf("result = kind %q, status %d, message %q; want a connection failure without status", result.Kind, result.Status, result.Message)
	}

	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	timeout := cas.TokenRequestResult(canceled, ts.issuer()+"/token", errors.New("request canceled"))
	if timeout.Kind != cas.KindTimeout {
		t.Errorf("kind for a finished context = %q, want %q", timeout.Kind, cas.KindTimeout)
	}

	if strings.Contains(result.Message, "client_assertion") {
		t.Errorf("message %q mentions the assertion", result.Message)
	}
}
