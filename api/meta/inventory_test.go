package meta

import "testing"

func TestResourceIDRoundTrip(t *testing.T) {
	tests := []struct {
		namespace, name, group, kind string
		id                           string
	}{
		{"apps", "podinfo", "apps", "Deployment", "apps_podinfo_apps_Deployment"},
		{"", "apps", "", "Namespace", "_apps__Namespace"},
		{"", "system:aggregate-to-view", "rbac.authorization.k8s.io", "ClusterRole",
			"_system__aggregate-to-view_rbac.authorization.k8s.io_ClusterRole"},
	}
	for _, tt := range tests {
		if got := ResourceID(tt.namespace, tt.name, tt.group, tt.kind); got != tt.id {
			t.Errorf("ResourceID() = %q, want %q", got, tt.id)
		}
		ns, name, group, kind, ok := ParseResourceID(tt.id)
		if !ok || ns != tt.namespace || name != tt.name || group != tt.group || kind != tt.kind {
			t.Errorf("ParseResourceID(%q) = %q %q %q %q %v", tt.id, ns, name, group, kind, ok)
		}
	}
	for _, bad := range []string{"", "a_b", "a_b_c_d_e"} {
		if _, _, _, _, ok := ParseResourceID(bad); ok {
			t.Errorf("ParseResourceID(%q) accepted", bad)
		}
	}
}
