// Package gitserver runs real Git servers for tests, bound to 127.0.0.1:
// `git http-backend` behind net/http/cgi (basic auth, bearer tokens, TLS
// with a CA made in the test, push enabled) and an SSH server that runs
// git-upload-pack and git-receive-pack for authorized public keys. It also
// makes repositories with the real `git` command: commits with a fixed
// identity and clock, branches, lightweight and annotated tags, pushes, and
// commits and tags signed with OpenPGP (through gpg) or SSH keys (through
// ssh-keygen).
//
// Every function returns its errors; the Start* variants take a testing.TB,
// fail the test on error and register their cleanup.
package gitserver

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// execPath is where git keeps its helper programs (git-http-backend,
// git-upload-pack, git-receive-pack).
var execPath = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", fmt.Errorf("finding git's exec path (is git installed?): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
})

// gitProgram returns the absolute path of one of git's helper programs.
func gitProgram(name string) (string, error) {
	dir, err := execPath()
	if err != nil {
		return "", err
	}
	p := dir + "/" + name
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("git helper %s: %w", name, err)
	}
	return p, nil
}

// isolatedEnv is the environment every git process started here runs
// with: the caller's environment minus GIT_* variables, with system and
// global configuration ignored so the machine's settings cannot change a
// test's outcome.
func isolatedEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "GNUPGHOME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false",
	)
	return append(env, extra...)
}

// run executes a program and returns its trimmed standard output; the
// error carries standard error so a failing git command explains itself.
func run(dir string, env []string, stdin io.Reader, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s (in %s): %w: %s", name, strings.Join(args, " "), dir, err,
			strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
