// Package plugin serves the backend to Vault over the plugin protocol.
package plugin

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/plugin"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/backend"
)

// Version is the plugin's semantic version, stamped at build time with
// -ldflags "-X github.com/rsa-cas/vault-plugin-secrets-rsa-cas/plugin.Version=v1.2.3".
// Vault compares it with the version given to `vault plugin register`.
var Version = "v0.0.0-dev"

// Serve parses the flags Vault passes to plugins and serves the backend
// until Vault stops the process. Multiplexing lets one plugin process serve
// every mount of the engine.
func Serve(args []string, logger hclog.Logger) error {
	meta := &api.PluginAPIClientMeta{}

	flags := meta.FlagSet()
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("parse plugin flags: %w", err)
	}

	logger.Info("starting plugin", "version", Version, "pid", os.Getpid(), "parent_pid", os.Getppid())

	ctx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()

	go watchParent(ctx, logger, parentCheckInterval, os.Getppid, exitOrphaned)

	err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: backend.Factory(backend.Options{Version: Version}),
		TLSProviderFunc:    api.VaultPluginTLSProvider(meta.GetTLSConfig()),
		Logger:             logger,
	})
	if err != nil {
		return fmt.Errorf("serve plugin: %w", err)
	}

	logger.Info("plugin stopped", "version", Version)

	return nil
}
