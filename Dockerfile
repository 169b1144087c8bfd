# The gotk-controller image: static, non-root binaries on a distroless base:
# gotk-controller, which holds every controller (--all-in-one installs, local
# runs), and one binary per controller, which gotk install runs.
#   docker build -t ghcr.io/gotk-dev/gotk-controller:v0.1.0 --build-arg VERSION=v0.1.0 .

FROM golang:1.26 AS builder
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
COPY api/go.mod api/go.sum ./api/
RUN go mod download
COPY api/ api/
COPY config/ config/
COPY internal/ internal/
COPY cmd/ cmd/
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
RUN for bin in gotk-controller gotk-source-controller gotk-kustomize-controller \
               gotk-helm-controller gotk-notification-controller; do \
      CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
        -ldflags "-s -w -X github.com/gotk-dev/gotk/internal/version.Version=${VERSION}" \
        -o /out/$bin ./cmd/$bin || exit 1; \
    done

# distroless static: CA certificates, /etc/passwd with nonroot, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gotk-controller"]
