package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gotk-dev/gotk/internal/git"
)

// maxKeyFile caps the size of the key and CA files that create secret
// reads.
const maxKeyFile = 1 << 20

type secretGitFlags struct {
	url, username, password, bearerToken string
	privateKeyFile, caFile               string
	// identity is a key at hand (bootstrap: the one its Secret holds
	// already), used when no --private-key-file is given.
	identity []byte
	export   bool
	timeout  time.Duration
	labels   []string
}

func newCreateSecretGitCmd(c *cli) *cobra.Command {
	f := &secretGitFlags{}
	cmd := &cobra.Command{
		Use:   "git NAME",
		Short: "Create or update the Secret a GitRepository authenticates with",
		Long: `Create or update a Secret with the keys a GitRepository reads:

  HTTPS  username and password (--username, --password), or bearerToken
         (--bearer-token); ca.crt (--ca-file) for a server whose certificate a
         private CA signed.
  SSH    identity and identity.pub (the private key of --private-key-file, or a
         new ed25519 key when none is given: add its public half to the
         repository as a deploy key), password (--password, when the key is
         encrypted), and known_hosts, from a scan of the host in --url.

The Secret is applied with server-side apply; gotk never prints the values,
only which keys it wrote. With --export the Secret is printed as YAML instead,
values base64-encoded as a Secret holds them: keep that output out of Git
unless it is encrypted (with SOPS, for example).`,
		Example: `  # Basic auth (a personal access token as password)
  gotk create secret git podinfo-auth --url=https://github.com/org/podinfo \
    --username=git --password="$GITHUB_TOKEN"

  # A bearer token, for a server with a private CA
  gotk create secret git podinfo-auth --url=https://git.example.com/org/podinfo \
    --bearer-token="$TOKEN" --ca-file=./ca.crt

  # SSH with an existing key; known_hosts comes from a scan of github.com
  gotk create secret git podinfo-ssh --url=ssh://git@github.com/org/podinfo \
    --private-key-file=./id_ed25519

  # SSH with a new key, printed as YAML
  gotk create secret git podinfo-ssh --url=ssh://git@github.com/org/podinfo --export`,
		Args: exactlyOneName("Secret"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCreateSecretGit(cmd.Context(), c, f, args[0], c.objectNamespace(cmd))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "URL of the repository the Secret is for: https://, http:// or ssh://.")
	fl.StringVarP(&f.username, "username", "u", "", "Basic auth user name (HTTPS).")
	fl.StringVarP(&f.password, "password", "p", "", "Basic auth password (HTTPS), or the passphrase of --private-key-file (SSH).")
	fl.StringVar(&f.bearerToken, "bearer-token", "", "Bearer token (HTTPS).")
	fl.StringVar(&f.privateKeyFile, "private-key-file", "", "Private key file, PEM or OpenSSH format (SSH).")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA that signed the server's certificate (HTTPS).")
	fl.BoolVar(&f.export, "export", false, "Print the Secret as YAML instead of applying it.")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "How long the scan of the SSH host may take.")
	fl.StringSliceVar(&f.labels, "label", nil, "Labels to set, as key=value (repeat the flag or separate with commas).")
	return cmd
}

// gitSecret is a built Secret and what create says about it.
type gitSecret struct {
	secret    *corev1.Secret
	deployKey string
	hostKey   string
}

func runCreateSecretGit(ctx context.Context, c *cli, f *secretGitFlags, name, namespace string) error {
	gs, err := buildGitSecret(ctx, f, name, namespace)
	if err != nil {
		return err
	}
	if gs.hostKey != "" {
		c.status.ok("scanned the host key of %s", gs.hostKey)
	}
	if gs.deployKey != "" {
		c.status.step("deploy key (add it to the repository with read access, or write access for image automation):\n%s", gs.deployKey)
	}
	return exportOrApplySecret(ctx, c, f.export, gs.secret)
}

// exportOrApplySecret prints the Secret as YAML with export, else applies
// it and says which keys it holds, never their values.
func exportOrApplySecret(ctx context.Context, c *cli, export bool, s *corev1.Secret) error {
	if export {
		return printTypedYAML(c.out, s)
	}
	cl, err := c.watchClient()
	if err != nil {
		return err
	}
	created, err := applyTyped(ctx, cl, s)
	if err != nil {
		return err
	}
	c.status.ok("Secret %s/%s %s with keys %s", s.Namespace, s.Name, createdOrConfigured(created), strings.Join(sortedKeys(s.Data), ", "))
	return nil
}

// newSecret is an Opaque Secret with data.
func newSecret(name, namespace string, labels map[string]string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// readCACert reads --ca-file: a PEM certificate.
func readCACert(file string) ([]byte, error) {
	ca, err := readCapped(file, "--ca-file")
	if err != nil {
		return nil, err
	}
	if b, _ := pem.Decode(ca); b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", file)
	}
	return ca, nil
}

// buildGitSecret checks the flags against the URL's scheme and builds the
// Secret.
func buildGitSecret(ctx context.Context, f *secretGitFlags, name, namespace string) (*gitSecret, error) {
	if f.url == "" {
		return nil, errors.New("--url is required: the address of the Git repository the Secret is for")
	}
	u, err := url.Parse(f.url)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--url %q is not a URL with a host, such as ssh://git@github.com/org/repo", f.url)
	}
	labels, err := parseLabels(f.labels)
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	gs := &gitSecret{}
	switch u.Scheme {
	case "ssh":
		if f.username != "" || f.bearerToken != "" || f.caFile != "" {
			return nil, errors.New("an ssh:// URL authenticates with a key: --username, --bearer-token and --ca-file are for https:// (the SSH user goes in the URL, as in ssh://git@host/org/repo)")
		}
		if err := sshKeys(f, data, gs); err != nil {
			return nil, err
		}
		line, err := scanHostKey(ctx, u.Host, f.timeout)
		if err != nil {
			return nil, err
		}
		data[git.KnownHostsKey] = []byte(line + "\n")
		gs.hostKey = describeHostKey(u.Host, line)
	case "https", "http":
		if f.privateKeyFile != "" {
			return nil, errors.New("--private-key-file is for ssh:// URLs; an https:// URL authenticates with --username/--password or --bearer-token")
		}
		switch {
		case f.bearerToken != "" && (f.username != "" || f.password != ""):
			return nil, errors.New("use either --username/--password or --bearer-token, not both")
		case f.bearerToken != "":
			data[git.BearerTokenKey] = []byte(f.bearerToken)
		case f.username != "" || f.password != "":
			if f.username == "" || f.password == "" {
				return nil, errors.New("--username and --password go together")
			}
			data[git.UsernameKey] = []byte(f.username)
			data[git.PasswordKey] = []byte(f.password)
		case f.caFile == "":
			return nil, errors.New("no credentials given: use --username/--password, --bearer-token or --ca-file")
		}
		if f.caFile != "" {
			if u.Scheme == "http" {
				return nil, errors.New("--ca-file needs an https:// URL")
			}
			ca, err := readCACert(f.caFile)
			if err != nil {
				return nil, err
			}
			data[git.CACertKey] = ca
		}
	default:
		return nil, fmt.Errorf("--url %q: scheme %q is not supported; use https://, http:// or ssh://", f.url, u.Scheme)
	}
	gs.secret = newSecret(name, namespace, labels, data)
	return gs, nil
}

// sshKeys fills identity, identity.pub and password: from
// --private-key-file, or from a new ed25519 key.
func sshKeys(f *secretGitFlags, data map[string][]byte, gs *gitSecret) error {
	var identity []byte
	var pub ssh.PublicKey
	if f.privateKeyFile == "" && len(f.identity) > 0 {
		signer, err := ssh.ParsePrivateKey(f.identity)
		if err != nil {
			return errors.New("the key already in the Secret cannot be used without its passphrase: give it with --private-key-file and --password")
		}
		identity, pub = f.identity, signer.PublicKey()
	} else if f.privateKeyFile == "" {
		if f.password != "" {
			return errors.New("--password encrypts nothing without --private-key-file: a new key is stored unencrypted")
		}
		public, private, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("generate an ed25519 key: %w", err)
		}
		block, err := ssh.MarshalPrivateKey(private, "")
		if err != nil {
			return fmt.Errorf("encode the new key: %w", err)
		}
		identity = pem.EncodeToMemory(block)
		if pub, err = ssh.NewPublicKey(public); err != nil {
			return err
		}
		gs.deployKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	} else {
		var err error
		identity, err = readCapped(f.privateKeyFile, "--private-key-file")
		if err != nil {
			return err
		}
		signer, err := ssh.ParsePrivateKey(identity)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing) && f.password == "":
			return fmt.Errorf("the key in %s is encrypted: give its passphrase with --password", f.privateKeyFile)
		case errors.As(err, &missing):
			signer, err = ssh.ParsePrivateKeyWithPassphrase(identity, []byte(f.password))
			if err != nil {
				return fmt.Errorf("--password does not decrypt the key in %s", f.privateKeyFile)
			}
			data[git.PasswordKey] = []byte(f.password)
		case err != nil:
			return fmt.Errorf("%s holds no private key in PEM or OpenSSH format", f.privateKeyFile)
		case f.password != "":
			return fmt.Errorf("the key in %s is not encrypted: leave out --password", f.privateKeyFile)
		}
		pub = signer.PublicKey()
	}
	data[git.IdentityKey] = identity
	data["identity.pub"] = ssh.MarshalAuthorizedKey(pub)
	return nil
}

// readCapped reads a file of at most maxKeyFile bytes.
func readCapped(name, flag string) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", flag, name, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: %s is larger than %d bytes", flag, name, maxKeyFile)
	}
	return data, nil
}

// errHostKeySeen stops the SSH handshake once the host key is known.
var errHostKeySeen = errors.New("host key seen")

// scanHostKey connects to an SSH server, takes its host key from the key
// exchange (no authentication is tried) and returns it as a known_hosts
// line.
func scanHostKey(ctx context.Context, host string, timeout time.Duration) (string, error) {
	addr := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		addr = net.JoinHostPort(strings.Trim(host, "[]"), "22")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("scan the SSH host key of %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "git",
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errHostKeySeen
		},
	}
	sc, _, _, err := ssh.NewClientConn(conn, addr, cfg)
	if err == nil {
		_ = sc.Close()
	}
	if key == nil {
		return "", fmt.Errorf("scan the SSH host key of %s: the handshake failed: %w", addr, err)
	}
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key), nil
}

// describeHostKey says which key was scanned, by its fingerprint.
func describeHostKey(host, line string) string {
	_, _, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
	if err != nil {
		return host
	}
	return fmt.Sprintf("%s: %s %s", host, key.Type(), ssh.FingerprintSHA256(key))
}
