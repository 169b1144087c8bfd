package main

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/version"
)

func TestCheckServerVersion(t *testing.T) {
	for _, tc := range []struct {
		info version.Info
		want string // the version, or the start of the error
	}{
		{version.Info{GitVersion: "v1.37.2", Major: "1", Minor: "37"}, "1.37.2"},
		{version.Info{GitVersion: "v1.30.0-gke.1", Major: "1", Minor: "30+"}, "1.30.0"},
		{version.Info{GitVersion: "v0.0.0-master+$Format:%H$", Major: "1", Minor: "37"}, "1.37"},
		{version.Info{GitVersion: "v1.29.9", Major: "1", Minor: "29"}, "Kubernetes 1.29.9 is older than 1.30.0"},
		{version.Info{GitVersion: "v0.0.0-master", Major: "1", Minor: "28+"}, "Kubernetes 1.28 is older than 1.30.0"},
		{version.Info{GitVersion: "garbage"}, "cannot read the Kubernetes version"},
	} {
		v, err := checkServerVersion(&tc.info)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = v.String()
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%+v: got %q, want %q", tc.info, got, tc.want)
		}
	}
}
