package kustomize

import (
	"errors"
	"strings"
	"testing"
)

var testVars = map[string]string{
	"name":    "podinfo",
	"empty":   "",
	"Mixed":   "hello World",
	"path":    "a/b/c.tar.gz",
	"ver":     "v1.2.3",
	"unicode": "ÉtéÀ",
	"_under":  "u",
	"slashy":  "x/y/x/y",
}

func lookupTestVars(name string) (string, bool) {
	v, ok := testVars[name]
	return v, ok
}

func TestExpand(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"no variables", "no variables"},
		{"${name}", "podinfo"},
		{"app-${name}-svc", "app-podinfo-svc"},
		{"${_under}", "u"},
		{"${missing}", ""},
		{"a${missing}b", "ab"},
		// Defaults: Flux treats the four forms alike.
		{"${missing:=def}", "def"},
		{"${missing:-def}", "def"},
		{"${missing=def}", "def"},
		{"${missing-def}", "def"},
		{"${empty:=def}", "def"},
		{"${name:=def}", "podinfo"},
		{"${missing:=}", ""},
		{"${missing:=a b:c/d}", "a b:c/d"},
		{"${missing:=${name}-x}", "podinfo-x"},
		{"${missing:=${other:=deep}}", "deep"},
		// Escapes: $$ is a literal $, a lone $ stays.
		{"$${name}", "${name}"},
		{"$$name", "$name"},
		{"$$", "$"},
		{"$$$", "$$"},
		{"$$${name}", "$podinfo"},
		{"$name $1 $ {name} a$", "$name $1 $ {name} a$"},
		{"cost: 5$", "cost: 5$"},
		// Length and case.
		{"${#name}", "7"},
		{"${#unicode}", "4"},
		{"${#missing}", "0"},
		{"${Mixed^^}", "HELLO WORLD"},
		{"${Mixed,,}", "hello world"},
		{"${name^}", "Podinfo"},
		{"${Mixed,}", "hello World"},
		{"${unicode,}", "étéÀ"},
		// Substrings, in characters.
		{"${name:3}", "info"},
		{"${name:0:3}", "pod"},
		{"${name:-4}", "podinfo"}, // ":-" is a default, as in bash
		{"${name: -4}", "info"},
		{"${name:2:-2}", "din"},
		{"${name:10}", ""},
		{"${name:x}", "podinfo"},
		{"${unicode:1:2}", "té"},
		// Prefix and suffix removal with globs.
		{"${path#*/}", "b/c.tar.gz"},
		{"${path##*/}", "c.tar.gz"},
		{"${path%.*}", "a/b/c.tar"},
		{"${path%%.*}", "a/b/c"},
		{"${ver#v}", "1.2.3"},
		{"${ver#[0-9]}", "v1.2.3"},
		{"${ver#[!0-9]}", "1.2.3"},
		{"${ver%.?}", "v1.2"},
		// Literal replacement.
		{"${slashy/x/z}", "z/y/x/y"},
		{"${slashy//x/z}", "z/y/z/y"},
		{"${slashy/#x/z}", "z/y/x/y"},
		{"${slashy/%y/z}", "x/y/x/z"},
		{"${slashy/%x/z}", "x/y/x/y"},
		{"${slashy//\\//-}", "x-y-x-y"},
		{"${slashy//x}", "/y//y"},
		{"${slashy//}", "x/y/x/y"},
		{"${name/#/pre-}", "pre-podinfo"},
		{"${name//o/${ver}}", "pv1.2.3dinfv1.2.3"},
		// YAML around it.
		{"image: ghcr.io/${name}:${tag:=latest}\nreplicas: ${replicas:=2}\n", "image: ghcr.io/podinfo:latest\nreplicas: 2\n"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, lookupTestVars, false)
		if err != nil {
			t.Errorf("Expand(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"${", "missing closing brace"},
		{"a ${name", "missing closing brace"},
		{"${name:=x", "missing closing brace"},
		{"${}", "missing variable name"},
		{"${#}", "missing variable name"},
		{"${a b}", `unexpected ' '`},
		{"${a.b}", `unexpected '.'`},
		{"${name:+x}", "not supported"},
		{"${name:?x}", "not supported"},
		{"${name^x}", "expected the closing brace"},
		{strings.Repeat("${a:=", 40) + strings.Repeat("}", 40), "nested more than"},
	}
	for _, tt := range tests {
		_, err := Expand(tt.in, lookupTestVars, false)
		var serr *SyntaxError
		if !errors.As(err, &serr) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Expand(%q) error = %v, want a SyntaxError containing %q", tt.in, err, tt.want)
		}
	}
}

func TestExpandStrict(t *testing.T) {
	for _, in := range []string{"${missing}", "${#missing}", "${missing^^}", "${missing:1}", "${missing/a/b}", "${missing%x}", "${name:=${missing}}"} {
		_, err := Expand(in, lookupTestVars, true)
		if !errors.Is(err, ErrVariableNotSet) || !strings.Contains(err.Error(), `"missing"`) {
			t.Errorf("strict Expand(%q) error = %v, want ErrVariableNotSet naming the variable", in, err)
		}
	}
	for in, want := range map[string]string{
		"${missing:=d}": "d", "${missing-d}": "d", "${name}": "podinfo", "${empty}": "", "$${missing}": "${missing}",
	} {
		got, err := Expand(in, lookupTestVars, true)
		if err != nil || got != want {
			t.Errorf("strict Expand(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "a/b", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbb", false},
		{"?", "é", true},
		{"??", "é", false},
		{"[a-c]x", "bx", true},
		{"[!a-c]x", "bx", false},
		{"[^a-c]x", "dx", true},
		{"[]]", "]", true},
		{"[abc", "a", false},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"*.*.*", "a.b.c", true},
		{"*a*a*a*b", strings.Repeat("a", 40), false},
	} {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// FuzzExpand checks that Expand never panics, that text without "$" comes
// back unchanged, that text without "{" only loses the first "$" of each
// "$$", and that only strict mode reports unset variables.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"", "plain", "${name}", "$${name}", "$$$", "${a:=${b:=${c}}}", "${name:1:-1}", "${path##*/}",
		"${slashy//\\//-}", "${#name}", "${name^^}", "${", "${a b}", "${x/[a-/]}", "${v:=}}", "$${",
		"key: ${missing:=default}\nother: $${literal}\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, strict bool) {
		out, err := Expand(s, lookupTestVars, strict)
		if !strings.Contains(s, "$") && (err != nil || out != s) {
			t.Fatalf("Expand(%q) = %q, %v; want the input back", s, out, err)
		}
		if !strings.Contains(s, "{") {
			want := unescapeDollars(s)
			if err != nil || out != want {
				t.Fatalf("Expand(%q) = %q, %v; want %q", s, out, err, want)
			}
		}
		if !strict && errors.Is(err, ErrVariableNotSet) {
			t.Fatalf("Expand(%q) reported an unset variable outside strict mode", s)
		}
		if err == nil && strict {
			// Whatever strict mode accepts, the default mode renders the same.
			lax, lerr := Expand(s, lookupTestVars, false)
			if lerr != nil || lax != out {
				t.Fatalf("Expand(%q): strict %q, default %q, %v", s, out, lax, lerr)
			}
		}
	})
}

// unescapeDollars turns each "$$" into "$", left to right.
func unescapeDollars(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '$' {
			i++
		}
	}
	return b.String()
}
