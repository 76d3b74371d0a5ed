package backend

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/sdk/logical"
)

// readEntry reads and decodes the JSON entry prefix+name, or returns nil
// when it does not exist. A name that nameError rejects counts as absent:
// Vault storage would fail on it with HTTP 500, and the path handlers
// reject it with HTTP 400 before they read.
func readEntry[T any](ctx context.Context, s logical.Storage, prefix, kind, name string) (*T, error) {
	if nameError("name", name) != "" {
		return nil, nil
	}

	entry, err := s.Get(ctx, prefix+name)
	if err != nil {
		return nil, fmt.Errorf("read %s %q: %w", kind, name, err)
	}

	if entry == nil {
		return nil, nil
	}

	value := new(T)
	if err := entry.DecodeJSON(value); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", kind, name, err)
	}

	return value, nil
}
