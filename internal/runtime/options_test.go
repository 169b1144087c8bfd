package runtime

import (
	"testing"

	"github.com/spf13/pflag"
)

// --insecure-kubeconfig-tls is off unless given, as in Flux.
func TestInsecureKubeconfigTLSFlag(t *testing.T) {
	o := DefaultOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.BindFlags(fs)
	if o.InsecureKubeconfigTLS {
		t.Fatal("--insecure-kubeconfig-tls must default to off")
	}
	if err := fs.Parse([]string{"--insecure-kubeconfig-tls"}); err != nil {
		t.Fatal(err)
	}
	if !o.InsecureKubeconfigTLS {
		t.Error("--insecure-kubeconfig-tls did not turn it on")
	}
}
