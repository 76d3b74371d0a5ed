package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunStopsAfterRequests(t *testing.T) {
	t.Parallel()

	var served atomic.Int64

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Vault-Token") != "tok" || string(body) != `{"a":1}` {
			http.Error(w, "wrong request", http.StatusBadRequest)

			return
		}

		served.Add(1)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(server.Close)

	target := Target{Name: "t", Method: http.MethodPost, URL: server.URL, Token: "tok", Body: []byte(`{"a":1}`)}

	sample, err := Run(t.Context(), NewClient(4), target, 4, Stop{Requests: 50})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if sample.Requests != 50 || len(sample.Latencies) != 50 || served.Load() != 50 {
		t.Errorf("Run sent %d requests (%d latencies, %d served), expected 50", sample.Requests, len(sample.Latencies), served.Load())
	}

	if sample.Elapsed <= 0 {
		t.Errorf("Elapsed = %s, expected a positive time", sample.Elapsed)
	}
}

func TestRunStopsAfterDuration(t *testing.T) {
	t.Parallel()

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(server.Close)

	sample, err := Run(t.Context(), NewClient(2), Target{Name: "t", Method: http.MethodGet, URL: server.URL}, 2, Stop{Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if sample.Requests == 0 || sample.Elapsed < 50*time.Millisecond {
		t.Errorf("Run gave %d requests in %s, expected some requests over at least 50ms", sample.Requests, sample.Elapsed)
	}
}

func TestRunFailsOnErrorStatus(t *testing.T) {
	t.Parallel()

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
	}))
	t.Cleanup(server.Close)

	_, err := Run(t.Context(), NewClient(1), Target{Name: "creds", Method: http.MethodGet, URL: server.URL}, 3, Stop{Requests: 10})
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Run error = %v, expected one naming HTTP 403 and Vault's message", err)
	}
}

func TestRunRejectsBadStop(t *testing.T) {
	t.Parallel()

	target := Target{Name: "t", Method: http.MethodGet, URL: "http://127.0.0.1:1"}

	for _, tt := range []struct {
		clients int
		stop    Stop
	}{
		{1, Stop{}},
		{1, Stop{Duration: time.Second, Requests: 1}},
		{0, Stop{Requests: 1}},
	} {
		if _, err := Run(t.Context(), NewClient(1), target, tt.clients, tt.stop); err == nil {
			t.Errorf("Run(clients %d, %+v) accepted it", tt.clients, tt.stop)
		}
	}
}
