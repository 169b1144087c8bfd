package v1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestAddToSchemeRegistersEveryKind(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{GitRepositoryKind, OCIRepositoryKind, HelmRepositoryKind, HelmChartKind, BucketKind} {
		for _, k := range []string{kind, kind + "List"} {
			if !s.Recognizes(GroupVersion.WithKind(k)) {
				t.Errorf("%s is not registered", k)
			}
		}
	}
}

func TestGitVerificationMode(t *testing.T) {
	tests := []struct {
		mode            GitVerificationMode
		want            GitVerificationMode
		verifyHEAD, tag bool
	}{
		{"", ModeGitHEAD, true, false},
		{"head", ModeGitHEAD, true, false},
		{ModeGitHEAD, ModeGitHEAD, true, false},
		{ModeGitTag, ModeGitTag, false, true},
		{ModeGitTagAndHEAD, ModeGitTagAndHEAD, true, true},
	}
	for _, tt := range tests {
		v := &GitRepositoryVerification{Mode: tt.mode}
		if got := v.GetMode(); got != tt.want {
			t.Errorf("GetMode(%q) = %q, want %q", tt.mode, got, tt.want)
		}
		if v.VerifyHEAD() != tt.verifyHEAD || v.VerifyTag() != tt.tag {
			t.Errorf("mode %q: VerifyHEAD=%v VerifyTag=%v, want %v %v", tt.mode, v.VerifyHEAD(), v.VerifyTag(), tt.verifyHEAD, tt.tag)
		}
	}
}

func TestGitRepositoryIncludeToPath(t *testing.T) {
	in := GitRepositoryInclude{}
	in.GitRepositoryRef.Name = "config"
	if got := in.GetToPath(); got != "config" {
		t.Errorf("GetToPath() = %q, want the repository name", got)
	}
	in.ToPath = "deploy/config"
	if got := in.GetToPath(); got != "deploy/config" {
		t.Errorf("GetToPath() = %q, want %q", got, in.ToPath)
	}
}

func TestDurations(t *testing.T) {
	hr := &HelmRepository{}
	if got := hr.GetRequeueAfter(); got != time.Minute {
		t.Errorf("HelmRepository without interval: GetRequeueAfter() = %v, want 1m", got)
	}
	if got := hr.GetTimeout(); got != 60*time.Second {
		t.Errorf("HelmRepository without timeout: GetTimeout() = %v, want 60s", got)
	}
	gr := &GitRepository{Spec: GitRepositorySpec{
		Interval: metav1.Duration{Duration: 5 * time.Minute},
		Timeout:  &metav1.Duration{Duration: 90 * time.Second},
	}}
	if gr.GetRequeueAfter() != 5*time.Minute || gr.GetTimeout() != 90*time.Second {
		t.Errorf("GitRepository: GetRequeueAfter()=%v GetTimeout()=%v", gr.GetRequeueAfter(), gr.GetTimeout())
	}
}

func TestLastHandledReconcileRequest(t *testing.T) {
	var objs = []Source{&GitRepository{}, &OCIRepository{}, &HelmRepository{}, &HelmChart{}, &Bucket{}}
	for _, o := range objs {
		o.SetLastHandledReconcileRequest("2026-01-01T00:00:00Z")
		if got := o.GetLastHandledReconcileRequest(); got != "2026-01-01T00:00:00Z" {
			t.Errorf("%T: got %q", o, got)
		}
		if o.GetArtifact() != nil {
			t.Errorf("%T: GetArtifact() on a new object is not nil", o)
		}
	}
}
