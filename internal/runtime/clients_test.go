package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestKubeconfigMustBeSelfContained(t *testing.T) {
	const base = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
%s
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
users:
- name: u
  user:
%s
`
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, []byte("not read by the check"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cluster, user string
		ok            bool
	}{
		"embedded token": {"", "    token: abc", true},
		"exec plugin":    {"", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      interactiveMode: Never\n      args: [-c, id]", false},
		"token file":     {"", "    tokenFile: " + caFile, false},
		"ca file":        {"    certificate-authority: " + caFile, "    token: abc", false},
	} {
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(fmt.Sprintf(base, tc.cluster, tc.user)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := selfContained(cfg); (err == nil) != tc.ok {
			t.Errorf("%s: selfContained = %v, want ok %v", name, err, tc.ok)
		}
	}
}
