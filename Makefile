# gotk: build, generate, verify and test.
SHELL := /usr/bin/env bash -o pipefail
GO ?= go
BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gotk-dev/gotk/internal/version.Version=$(VERSION)
# Packages of the root module and of the api module.
PKGS := ./... ./api/...

# Flux's CRDs, where they are at hand: compat-facts lists their fields for
# the compatibility test.
FLUX_CRDS ?= ../shared/compat/flux-crds
COMPAT_FACTS := internal/crdcompat/testdata/flux-fields.tsv

.PHONY: all build generate compat-facts verify test test-unit lint demo kube-binaries tools clean

all: build

build: generate
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/gotk ./cmd/gotk-controller ./cmd/gotk-source-controller \
		./cmd/gotk-kustomize-controller ./cmd/gotk-helm-controller ./cmd/gotk-notification-controller

$(CONTROLLER_GEN): hack/tools/go.mod hack/tools/go.sum
	$(GO) build -C hack/tools -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

tools: $(CONTROLLER_GEN)

# Deepcopy functions and CRDs come from the API types.
generate: $(CONTROLLER_GEN)
	cd api && $(CONTROLLER_GEN) object:headerFile=../hack/boilerplate.go.txt paths=./...
	cd api && $(CONTROLLER_GEN) crd paths=./... output:crd:artifacts:config=../config/crd/bases

# The field paths, types and enums of Flux's CRDs that the compatibility
# test reads; regenerated when FLUX_CRDS exists, kept as they are elsewhere.
compat-facts:
	@if [ -d "$(FLUX_CRDS)" ]; then \
		$(GO) run ./hack/compatfacts -crds "$(FLUX_CRDS)" -out $(COMPAT_FACTS); \
	else echo "compat-facts: $(FLUX_CRDS) not found; $(COMPAT_FACTS) kept as it is"; fi

# Fails when generated files (code, CRDs, the compatibility list) are stale
# or go.mod is untidy.
verify: generate compat-facts
	$(GO) mod tidy
	cd api && $(GO) mod tidy
	$(GO) vet ./...
	cd api && $(GO) vet ./...
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "verify: the tree is dirty after generate/tidy; commit these:"; git status --porcelain; exit 1; fi

lint:
	$(GO) vet ./...
	cd api && $(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

kube-binaries:
	@./hack/kube-binaries.sh

# The tests run against a real control plane built by hack/kube-binaries.sh.
test: generate
	export GOTK_KUBE_ASSETS=$$(./hack/kube-binaries.sh) && \
	$(GO) test -count=1 -timeout 30m ./... && \
	(cd api && $(GO) test -count=1 ./...)

# The unit tier: the tests that need no control plane, in seconds and
# without the Kubernetes binaries (the others skip under -short).
test-unit:
	$(GO) test -short ./... && \
	(cd api && $(GO) test -short ./...)

# The demo: a local control plane, the controllers, a Git server and the
# GitOps loop. ONCE=1 runs the steps and exits (CI runs it that way).
demo: build
	@./hack/kube-binaries.sh >/dev/null
	ONCE=$(ONCE) $(GO) run ./hack/demo -bin=$(BIN) -examples=examples

clean:
	rm -rf $(BIN)
