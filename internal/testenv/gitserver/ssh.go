package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHOptions configures an SSH Git server.
type SSHOptions struct {
	// AuthorizedKeys are the public keys allowed to log in (any user
	// name). With none, every login is refused.
	AuthorizedKeys []ssh.PublicKey
}

// SSHServer serves the bare repositories under Root over SSH, running the
// real git-upload-pack and git-receive-pack for each request.
type SSHServer struct {
	// Root holds the bare repositories; "ssh://git@ADDR/a/b.git" is
	// Root/a/b.git.
	Root string
	// Addr is the server's address, 127.0.0.1:port.
	Addr string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey

	cfg    *ssh.ServerConfig
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	// authorized holds the marshalled public keys that may log in.
	authorized map[string]bool
}

// Authorize lets key log in from now on, as adding a deploy key to a
// repository does.
func (s *SSHServer) Authorize(key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorized[string(key.Marshal())] = true
}

// NewSSH starts an SSH Git server with a freshly generated ed25519 host key.
func NewSSH(root string, opts SSHOptions) (*SSHServer, error) {
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	s := &SSHServer{authorized: make(map[string]bool, len(opts.AuthorizedKeys))}
	for _, k := range opts.AuthorizedKeys {
		s.Authorize(k)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			ok := s.authorized[string(key.Marshal())]
			s.mu.Unlock()
			if ok {
				return &ssh.Permissions{}, nil
			}
			return nil, fmt.Errorf("public key %s is not authorized", ssh.FingerprintSHA256(key))
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the SSH git server: %w", err)
	}
	s.Root, s.Addr, s.HostKey = root, ln.Addr().String(), hostSigner.PublicKey()
	s.cfg, s.ln, s.conns = cfg, ln, map[net.Conn]struct{}{}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// StartSSH starts an SSH Git server for the test and stops it when the
// test ends.
func StartSSH(t testing.TB, root string, opts SSHOptions) *SSHServer {
	t.Helper()
	SkipShort(t)
	s, err := NewSSH(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// RepoURL returns the ssh:// URL of the repository at the path relative
// to Root, such as "org/app.git", for the user "git".
func (s *SSHServer) RepoURL(repo string) string {
	return "ssh://git@" + s.Addr + "/" + strings.TrimPrefix(repo, "/")
}

// KnownHosts returns the server's host key as a known_hosts line for its
// address ("[127.0.0.1]:port ssh-ed25519 AAAA...").
func (s *SSHServer) KnownHosts() []byte {
	return []byte(knownhosts.Line([]string{s.Addr}, s.HostKey) + "\n")
}

// Close stops the server and drops open connections.
func (s *SSHServer) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *SSHServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

func (s *SSHServer) handleConn(c net.Conn) {
	conn, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handleSession(ch, chReqs)
		}()
	}
	wg.Wait()
}

// handleSession serves one session: optional "env" requests (GIT_PROTOCOL)
// and then one "exec" of git-upload-pack or git-receive-pack.
func (s *SSHServer) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var protocol string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" {
				protocol = kv.Value
			}
			_ = req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			prog, repo, err := s.parseCommand(cmd.Command)
			if err != nil {
				_ = req.Reply(true, nil)
				fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
				sendExit(ch, 128)
				return
			}
			_ = req.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			sendExit(ch, s.runGit(ch, prog, repo, protocol))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// parseCommand reads "git-upload-pack '/org/app.git'" (or "git upload-pack
// ...") and returns the program and the repository path, confined to Root.
func (s *SSHServer) parseCommand(command string) (prog, repo string, err error) {
	name, arg, ok := strings.Cut(command, " ")
	if name == "git" {
		var sub string
		sub, arg, ok = strings.Cut(arg, " ")
		name = "git-" + sub
	}
	if !ok || (name != "git-upload-pack" && name != "git-receive-pack") {
		return "", "", fmt.Errorf("command %q is not served", command)
	}
	arg = unquote(strings.TrimSpace(arg))
	rel := strings.TrimPrefix(path.Clean("/"+arg), "/")
	if rel == "" {
		return "", "", errors.New("no repository given")
	}
	repo = filepath.Join(s.Root, filepath.FromSlash(rel))
	resolved, err := filepath.EvalSymlinks(repo)
	if err != nil {
		return "", "", fmt.Errorf("'%s' does not appear to be a git repository", arg)
	}
	root, err := filepath.EvalSymlinks(s.Root)
	if err != nil {
		return "", "", err
	}
	if r, err := filepath.Rel(root, resolved); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", "", fmt.Errorf("'%s' is outside the served root", arg)
	}
	prog, err = gitProgram(name)
	return prog, resolved, err
}

// unquote undoes the single quoting git applies to the repository path
// ('it'\”s' is it's).
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], `'\''`, `'`)
	}
	return s
}

func (s *SSHServer) runGit(ch ssh.Channel, prog, repo, protocol string) int {
	env := isolatedEnv("GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*")
	if protocol != "" {
		env = append(env, "GIT_PROTOCOL="+protocol)
	}
	cmd := exec.Command(prog, repo)
	cmd.Env = env
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// Copy the client's input by hand: exec.Cmd would wait for a client
	// that keeps its side open after the program has exited.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 128
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
		return 128
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		return 128
	}
	return 0
}

func sendExit(ch ssh.Channel, code int) {
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
}

// SSHKey is an ed25519 key pair for tests: a client identity (a Secret's
// identity and identity.pub), an authorized key for SSHServer, and a
// signing key for commits and tags.
type SSHKey struct {
	// Signer signs with the private key.
	Signer ssh.Signer
	// Public is the public key.
	Public ssh.PublicKey
	// PrivatePEM is the private key in OpenSSH format, unencrypted.
	PrivatePEM []byte
	// AuthorizedKey is the public key in authorized_keys format.
	AuthorizedKey []byte
	// Path is a file holding PrivatePEM (mode 0600), for ssh-keygen and ssh.
	Path string

	priv ed25519.PrivateKey
}

// NewSSHKey generates an ed25519 key and writes its private half to
// dir/id_ed25519 (or a fresh name if that exists).
func NewSSHKey(dir string) (*SSHKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "gotk-test")
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "id_ed25519-*")
	if err != nil {
		return nil, err
	}
	pemBytes := pem.EncodeToMemory(block)
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &SSHKey{
		Signer:        signer,
		Public:        signer.PublicKey(),
		PrivatePEM:    pemBytes,
		AuthorizedKey: bytes.TrimSpace(ssh.MarshalAuthorizedKey(signer.PublicKey())),
		Path:          f.Name(),
		priv:          priv,
	}, nil
}

// EncryptedPEM returns the private key in OpenSSH format, encrypted with
// the passphrase (a Secret's identity with its password).
func (k *SSHKey) EncryptedPEM(passphrase string) ([]byte, error) {
	block, err := ssh.MarshalPrivateKeyWithPassphrase(k.priv, "gotk-test", []byte(passphrase))
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(block), nil
}
