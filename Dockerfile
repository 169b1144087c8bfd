# The gotk-controller image: a static, non-root binary on a distroless base.
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
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/gotk-dev/gotk/internal/version.Version=${VERSION}" \
      -o /out/gotk-controller ./cmd/gotk-controller

# distroless static: CA certificates, /etc/passwd with nonroot, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/gotk-controller /usr/local/bin/gotk-controller
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gotk-controller"]
