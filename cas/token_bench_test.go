package cas_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/internal/cputime"
)

// benchAudience has the length of a real tenant's adminRestApiUrl, so the
// claims the benchmarks sign are as long as production ones.
const benchAudience = "https://acme.access.securid.com/AdminInterface/restapi"

// BenchmarkMint measures what the creds path pays in package cas per token:
// claims, random jti, JSON, base64url and the RS256 signature with a parsed
// key. `make bench` compares it with BenchmarkRawSign.
func BenchmarkMint(b *testing.B) {
	signer := cas.NewSigner(testAccessID, benchAudience, testKey())

	b.ReportAllocs()
	start := cputime.Start()

	for b.Loop() {
		if _, err := signer.Mint(testNow, 15*time.Minute); err != nil {
			b.Fatalf("Mint() error = %v", err)
		}
	}

	cputime.ReportPerOp(b, start)
}

// BenchmarkRawSign is the floor under BenchmarkMint on this CPU: SHA-256 and
// a bare PKCS #1 v1.5 signature over the very bytes Mint signs (the JWT's
// header.claims), with the same key and nothing else.
func BenchmarkRawSign(b *testing.B) {
	token, err := cas.NewSigner(testAccessID, benchAudience, testKey()).Mint(testNow, 15*time.Minute)
	if err != nil {
		b.Fatalf("Mint() error = %v", err)
	}

	signingInput := []byte(token.Raw[:strings.LastIndexByte(token.Raw, '.')])
	key := testKey()

	b.ReportAllocs()
	start := cputime.Start()

	for b.Loop() {
		digest := sha256.Sum256(signingInput)
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatalf("SignPKCS1v15() error = %v", err)
		}
	}

	cputime.ReportPerOp(b, start)
}
