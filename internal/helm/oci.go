package helm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// DockerConfigKey is the key of a kubernetes.io/dockerconfigjson Secret.
const DockerConfigKey = ".dockerconfigjson"

// RegistryHost returns the host[:port] of an oci:// URL.
func RegistryHost(ociURL string) (string, error) {
	u, err := url.Parse(ociURL)
	if err != nil {
		return "", fmt.Errorf("spec.url %q: %w", ociURL, err)
	}
	if u.Scheme != "oci" || u.Host == "" {
		return "", fmt.Errorf("spec.url %q: want oci://<host>[/<path>]", ociURL)
	}
	return u.Host, nil
}

// DockerConfigAuth returns the credentials for host in the JSON of a
// kubernetes.io/dockerconfigjson Secret.
func DockerConfigAuth(data []byte, host string) (username, password string, err error) {
	var cfg struct {
		Auths map[string]struct {
			Username string `json:"username"`
			Password string `json:"password"`
			Auth     string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", "", &SecretError{Err: fmt.Errorf("key '%s' is not JSON: %w", DockerConfigKey, err)}
	}
	for name, a := range cfg.Auths {
		if name != host && strings.TrimPrefix(strings.TrimPrefix(name, "https://"), "http://") != host {
			continue
		}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return "", "", &SecretError{Err: fmt.Errorf("key '%s': auth of %s is not base64", DockerConfigKey, name)}
			}
			u, p, ok := strings.Cut(string(dec), ":")
			if !ok {
				return "", "", &SecretError{Err: fmt.Errorf("key '%s': auth of %s is not <username>:<password>", DockerConfigKey, name)}
			}
			return u, p, nil
		}
		return a.Username, a.Password, nil
	}
	return "", "", &SecretError{Err: fmt.Errorf("key '%s' has no credentials for %s", DockerConfigKey, host)}
}

// RegistryError is a registry's refusal to answer.
type RegistryError struct {
	Host string
	Err  error
}

func (e *RegistryError) Error() string {
	msg := fmt.Sprintf("registry %s: %s", e.Host, e.Err)
	if errors.Is(e.Err, auth.ErrBasicCredentialNotFound) {
		return msg + ": the registry asks for credentials (set spec.secretRef)"
	}
	if e.IsAuth() {
		msg += ": the registry refused the credentials (check spec.secretRef)"
	}
	return msg
}

func (e *RegistryError) Unwrap() error { return e.Err }

// IsAuth reports a 401 or 403, or credentials asked for and not given.
func (e *RegistryError) IsAuth() bool {
	if errors.Is(e.Err, auth.ErrBasicCredentialNotFound) {
		return true
	}
	var resp *errcode.ErrorResponse
	return errors.As(e.Err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden)
}

// PingRegistry checks that the registry of an oci:// URL answers its API
// version check with o's credentials. With o.Insecure it speaks plain
// HTTP.
func PingRegistry(ctx context.Context, ociURL string, o Options) error {
	host, err := RegistryHost(ociURL)
	if err != nil {
		return err
	}
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return fmt.Errorf("spec.url %q: %w", ociURL, err)
	}
	reg.PlainHTTP = o.Insecure
	hc, done := o.httpClient()
	defer done()
	client := &auth.Client{Client: hc, Cache: auth.NewCache()}
	if o.Username != "" || o.Password != "" {
		client.Credential = auth.StaticCredential(host, auth.Credential{Username: o.Username, Password: o.Password})
	}
	reg.Client = client
	if err := reg.Ping(ctx); err != nil {
		return &RegistryError{Host: host, Err: err}
	}
	return nil
}
