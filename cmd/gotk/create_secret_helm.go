package main

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gotk-dev/gotk/internal/helm"
)

type secretHelmFlags struct {
	username, password        string
	caFile, certFile, keyFile string
	export                    bool
	labels                    []string
}

func newCreateSecretHelmCmd(c *cli) *cobra.Command {
	f := &secretHelmFlags{}
	cmd := &cobra.Command{
		Use:   "helm NAME",
		Short: "Create or update the Secret a HelmRepository authenticates with",
		Long: `Create or update a Secret with the keys a HelmRepository reads:

  username and password (--username, --password) for basic authentication,
  named by spec.secretRef;
  ca.crt (--ca-file) to trust a private CA, and tls.crt and tls.key
  (--cert-file, --key-file) for a client certificate, named by
  spec.certSecretRef (or by spec.secretRef when there is no certSecretRef).

One Secret may hold both: name it with --secret-ref and --cert-secret-ref of
gotk create source helm.

The Secret is applied with server-side apply; gotk never prints the values,
only which keys it wrote. With --export the Secret is printed as YAML instead,
values base64-encoded as a Secret holds them: keep that output out of Git
unless it is encrypted (with SOPS, for example).`,
		Example: `  # Basic auth
  gotk create secret helm charts-auth --username=bot --password="$TOKEN"

  # A client certificate, and the private CA of the server
  gotk create secret helm charts-tls --cert-file=./tls.crt --key-file=./tls.key --ca-file=./ca.crt

  # Print the Secret as YAML instead of applying it
  gotk create secret helm charts-auth --username=bot --password="$TOKEN" --export`,
		Args: exactlyOneName("Secret"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := f.data()
			if err != nil {
				return err
			}
			labels, err := parseLabels(f.labels)
			if err != nil {
				return err
			}
			return exportOrApplySecret(cmd.Context(), c, f.export, newSecret(args[0], c.objectNamespace(cmd), labels, data))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.username, "username", "u", "", "Basic auth user name.")
	fl.StringVarP(&f.password, "password", "p", "", "Basic auth password.")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA that signed the server's certificate (stored as ca.crt).")
	fl.StringVar(&f.certFile, "cert-file", "", "PEM file of the client certificate (stored as tls.crt; needs --key-file).")
	fl.StringVar(&f.keyFile, "key-file", "", "PEM file of the client certificate's private key (stored as tls.key).")
	fl.BoolVar(&f.export, "export", false, "Print the Secret as YAML instead of applying it.")
	fl.StringSliceVar(&f.labels, "label", nil, "Labels to set, as key=value (repeat the flag or separate with commas).")
	return cmd
}

// data checks the flags and reads the files into the Secret's data, with
// the keys a HelmRepository reads.
func (f *secretHelmFlags) data() (map[string][]byte, error) {
	data := map[string][]byte{}
	if f.username != "" || f.password != "" {
		if f.username == "" || f.password == "" {
			return nil, errors.New("--username and --password go together")
		}
		data[helm.UsernameKey] = []byte(f.username)
		data[helm.PasswordKey] = []byte(f.password)
	}
	if f.caFile != "" {
		ca, err := readCACert(f.caFile)
		if err != nil {
			return nil, err
		}
		data[helm.CACertKey] = ca
	}
	if f.certFile != "" || f.keyFile != "" {
		if f.certFile == "" || f.keyFile == "" {
			return nil, errors.New("--cert-file and --key-file go together: a client certificate and its private key")
		}
		cert, err := readCapped(f.certFile, "--cert-file")
		if err != nil {
			return nil, err
		}
		key, err := readCapped(f.keyFile, "--key-file")
		if err != nil {
			return nil, err
		}
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return nil, fmt.Errorf("--cert-file %s and --key-file %s are not a PEM certificate and its private key: %w", f.certFile, f.keyFile, err)
		}
		data[helm.ClientCertKey] = cert
		data[helm.ClientKeyKey] = key
	}
	if len(data) == 0 {
		return nil, errors.New("no credentials given: use --username/--password, --ca-file, or --cert-file with --key-file")
	}
	return data, nil
}
