package backend

import (
	"net/http"

	"github.com/hashicorp/go-cleanhttp"
)

// casHTTPClient returns the HTTP client for requests to CAS on behalf of
// cfg.
//
// TODO: build it with cas.NewHTTPClient (retries with backoff on 429 and
// 5xx, per-attempt timeouts, the config's CA bundle) once that is
// available. Until then every config shares one pooled client without
// retries.
func (b *backend) casHTTPClient(_ *keyConfig) (*http.Client, error) {
	b.httpClientOnce.Do(func() {
		b.httpClient = cleanhttp.DefaultPooledClient()
	})

	return b.httpClient, nil
}
