package castest_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// Example_oAuthClient registers an OAuth client, gets an access token with a
// signed client assertion, and calls the Admin API with it.
func Example_oAuthClient() {
	server := castest.NewServer()
	defer server.Close()

	keyFile, err := castest.NewOAuthKeyFile(castest.KeyTypeEC, "demo-client", castest.ScopeAuditAdmin)
	if err != nil {
		panic(err)
	}
	if err := server.RegisterOAuthClient(keyFile.Client()); err != nil {
		panic(err)
	}

	// The client assertion: ES256 for an EC key, kid from the JWK, and
	// aud set to the token endpoint.
	now := time.Now()
	assertion := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": keyFile.ClientID,
		"sub": keyFile.ClientID,
		"aud": server.TokenURL(),
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": rand.Text(),
	})
	assertion.Header["kid"] = keyFile.KeyID
	signed, err := assertion.SignedString(keyFile.Signer)
	if err != nil {
		panic(err)
	}

	form := url.Values{
		"grant_type":            {castest.GrantTypeClientCredentials},
		"client_assertion_type": {castest.ClientAssertionTypeJWT},
		"client_assertion":      {signed},
		"client_id":             {keyFile.ClientID},
		"scope":                 {castest.ScopeAuditAdmin},
	}
	response, err := server.Client().Post(server.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		panic(err)
	}
	var token struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(response.Body).Decode(&token)
	_ = response.Body.Close()
	if err != nil {
		panic(err)
	}
	fmt.Println(response.StatusCode, token.TokenType, token.ExpiresIn)

	request, err := http.NewRequest(http.MethodGet, server.AdminURL()+"/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", nil)
	if err != nil {
		panic(err)
	}
	request.Header.Set("Authorization", "Bearer "+token.AccessToken)
	adminResponse, err := server.Client().Do(request)
	if err != nil {
		panic(err)
	}
	_ = adminResponse.Body.Close()
	fmt.Println(adminResponse.StatusCode)

	// Output:
	// 200 Bearer 3600
	// 200
}
