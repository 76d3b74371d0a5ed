//go:build e2e

package e2e

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issuedToken holds the claims of a token that passed verifyToken.
type issuedToken struct {
	raw      string
	subject  string
	audience string
	id       string
	issuedAt time.Time
	expires  time.Time
}

// tokenClaims is the claim set the engine mints.
type tokenClaims struct {
	jwt.RegisteredClaims
}

// verifyToken checks a token the way the test, not CAS, can: an RS256
// signature by key, sub equal to accessID, aud equal to audience, iat, exp
// and jti present, and exp after now. It never puts the token in an error.
func verifyToken(raw string, key *rsa.PublicKey, accessID, audience string, now time.Time) (issuedToken, error) {
	var claims tokenClaims

	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithSubject(accessID),
		jwt.WithAudience(audience),
	)

	token, err := parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return issuedToken{}, fmt.Errorf("token rejected: %w", err)
	}

	if typ, _ := token.Header["typ"].(string); typ != "JWT" {
		return issuedToken{}, fmt.Errorf("token header typ = %q, want JWT", typ)
	}

	if claims.IssuedAt == nil || claims.ID == "" {
		return issuedToken{}, errors.New("token has no iat or no jti")
	}

	return issuedToken{
		raw:      raw,
		subject:  claims.Subject,
		audience: audience,
		id:       claims.ID,
		issuedAt: claims.IssuedAt.Time,
		expires:  claims.ExpiresAt.Time,
	}, nil
}
