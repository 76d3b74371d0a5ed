# Targets print what they do, and any failing step fails the target.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

VERSION ?= v0.1.0
PLUGIN_NAME := vault-plugin-secrets-rsa-cas
PLUGIN_DIR := .bin/plugins
LDFLAGS := -s -w -X github.com/rsa-cas/vault-plugin-secrets-rsa-cas/plugin.Version=$(VERSION)

.PHONY: help build fake vault dev dev-stop test unit e2e bench lint fmt clean

help:
	@echo "make dev       build everything, start Vault with the plugin at rsa/ and a fake CAS, show a token"
	@echo "make dev-stop  stop what make dev started"
	@echo "make test      unit tests, then end-to-end tests against a real Vault"
	@echo "make bench     compare rsa/creds with transit sign on a real Vault, rewrite docs/benchmarks.md (about 5 minutes once Vault is built)"
	@echo "make lint      golangci-lint (pinned in tools/golangci-lint)"
	@echo "make build     build the plugin into $(PLUGIN_DIR) (VERSION=$(VERSION))"

build:
	@echo "==> building $(PLUGIN_NAME) $(VERSION) into $(PLUGIN_DIR)"
	@mkdir -p $(PLUGIN_DIR)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(PLUGIN_DIR)/$(PLUGIN_NAME) ./cmd/$(PLUGIN_NAME)

fake:
	@echo "==> building the fake CAS command into .bin/rsa-cas-fake"
	CGO_ENABLED=0 go build -trimpath -o .bin/rsa-cas-fake ./cmd/rsa-cas-fake

vault:
	@echo "==> getting Vault"
	scripts/get-vault.sh >/dev/null

dev: build fake
	VERSION=$(VERSION) scripts/dev.sh

dev-stop:
	scripts/dev-stop.sh

test: unit e2e

unit:
	@echo "==> unit tests (race detector on)"
	go test -race -count=1 ./...

e2e:
	@echo "==> end-to-end tests against a real Vault server"
	VAULT_BIN="$$(scripts/get-vault.sh)" go test -tags e2e -count=1 -v -timeout 20m ./e2e/

# Not part of test: timings belong in a report, never in a pass/fail check.
bench: build
	@echo "==> benchmarks (writes docs/benchmarks.md)"
	VERSION=$(VERSION) scripts/bench.sh

lint:
	@echo "==> golangci-lint"
	scripts/build-tool.sh golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	.bin/golangci-lint run ./...
	.bin/golangci-lint run --build-tags e2e ./e2e/...

fmt:
	@echo "==> gofmt"
	gofmt -s -w $$(git ls-files '*.go')

clean:
	@echo "==> removing .bin/plugins, .bin/rsa-cas-fake, .dev and .bench (Vault and tools are kept)"
	rm -rf $(PLUGIN_DIR) .bin/rsa-cas-fake .dev .bench
