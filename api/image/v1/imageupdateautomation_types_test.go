package v1

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

func TestSetterMarker(t *testing.T) {
	tests := []struct {
		field, want string
	}{
		{"", `{"$imagepolicy": "apps:podinfo"}`},
		{SetterFieldTag, `{"$imagepolicy": "apps:podinfo:tag"}`},
		{SetterFieldName, `{"$imagepolicy": "apps:podinfo:name"}`},
		{SetterFieldDigest, `{"$imagepolicy": "apps:podinfo:digest"}`},
	}
	for _, tt := range tests {
		if got := SetterMarker("apps", "podinfo", tt.field); got != tt.want {
			t.Errorf("SetterMarker(%q) = %s, want %s", tt.field, got, tt.want)
		}
	}
}

func TestAddToScheme(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "ImageUpdateAutomationList"} {
		if !s.Recognizes(GroupVersion.WithKind(kind)) {
			t.Errorf("scheme does not recognize %s", kind)
		}
	}
}
