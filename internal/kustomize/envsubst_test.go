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
	"neg":     "-4",
	"neg10":   "-10",
	"three":   "3",
	"v":       "v",
	"o":       "o",
	"hashy":   "##a#",
	"dollar":  "a$b",
}

func lookupTestVars(name string) (string, bool) {
	v, ok := testVars[name]
	return v, ok
}

// TestExpandMatchesFlux renders every form that Flux's post-build
// substitution accepts, with the results Flux gives, including where they
// differ from bash (noted).
func TestExpandMatchesFlux(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"no variables", "no variables"},
		{"${name}", "podinfo"},
		{"app-${name}-svc", "app-podinfo-svc"},
		{"${_under}", "u"},
		{"${missing}", ""},
		{"a${missing}b", "ab"},
		// The five default forms: the value when it is not empty, else the word.
		{"${missing:=def}", "def"},
		{"${missing:-def}", "def"},
		{"${missing=def}", "def"},
		{"${missing:+def}", "def"}, // bash: empty
		{"${missing:?def}", "def"}, // bash: an error
		{"${empty:=def}", "def"},
		{"${empty=def}", "def"}, // bash: empty
		{"${empty:+def}", "def"},
		{"${name:=def}", "podinfo"},
		{"${name:-def}", "podinfo"},
		{"${name=def}", "podinfo"},
		{"${name:+def}", "podinfo"}, // bash: def
		{"${name:?def}", "podinfo"},
		{"${missing:=}", ""},
		{"${missing:-}", ""},
		{"${missing:=a b:c/d}", "a b:c/d"},
		{"${missing:--1}", "-1"},
		{"${missing==x}", "=x"},
		{"${missing:={a}}", "{a}"},
		{"${missing:=$$x}", "$$x"}, // no escapes inside a word
		{"${missing:=${name}-x}", "podinfo-x"},
		{"${missing:=a${name}b${ver}c}", "apodinfobv1.2.3c"},
		{"${missing:=${other:=deep}}", "deep"},
		// Escapes: $$ is a literal $, a lone $ stays.
		{"$${name}", "${name}"},
		{"$$name", "$name"},
		{"$$", "$"},
		{"$$$", "$$"},
		{"$$${name}", "$podinfo"},
		{"$name $1 $ {name} a$", "$name $1 $ {name} a$"},
		{"cost: 5$", "cost: 5$"},
		{"} {name} \\${name}", "} {name} \\podinfo"},
		// Length, in bytes.
		{"${#name}", "7"},
		{"${#unicode}", "7"}, // bash: 4 characters
		{"${#missing}", "0"},
		// Case.
		{"${Mixed^^}", "HELLO WORLD"},
		{"${Mixed,,}", "hello world"},
		{"${name^}", "Podinfo"},
		{"${Mixed,}", "hello World"},
		{"${unicode,}", "étéÀ"},
		{"${Mixed^,}", "hello World"}, // mixed operators change nothing
		// Substrings, in bytes.
		{"${name:3}", "info"},
		{"${name:0:3}", "pod"},
		{"${name:+3}", "podinfo"},  // ":+" is a default
		{"${name:-4}", "podinfo"},  // ":-" is a default, as in bash
		{"${name: -4}", "podinfo"}, // bash: info
		{"${name:-4:2}", "podinfo"},
		{"${name:${neg}}", "info"},
		{"${name:${neg}:2}", "in"},
		{"${name:2:-2}", "din"},
		{"${name:5:-4}", ""},
		{"${name:10}", ""},
		{"${name:10:2}", ""},
		{"${name:-10:2}", "podinfo"},
		{"${name:${neg10}:2}", "po"},
		{"${name:2:100}", "dinfo"},
		{"${name:1:9223372036854775807}", "odinfo"},
		{"${name:x}", "podinfo"},
		{"${name:1:x}", "podinfo"},
		{"${name:1::2}", "od"}, // a run of colons is one delimiter
		{"${name:1:2:3}", "podinfo"},
		{"${unicode:1:2}", "\x89t"},
		{"${name:${three}:${three}}", "inf"},
		// Prefix and suffix removal with globs.
		{"${path#*/}", "b/c.tar.gz"},
		{"${path##*/}", "c.tar.gz"},
		{"${path%.*}", "a/b/c.tar"},
		{"${path%%.*}", "a/b/c"},
		{"${path%/*}", "a/b"},
		{"${path%%/*}", "a"},
		{"${ver#v}", "1.2.3"},
		{"${ver#x}", "v1.2.3"},
		{"${ver#[a-z]}", "1.2.3"},
		{"${ver#[^0-9]}", "1.2.3"},
		{"${ver#[!0-9]}", "v1.2.3"}, // "!" is a member, not a negation
		{"${ver#?}", "1.2.3"},
		{"${ver#*}", "1.2.3"}, // bash: v1.2.3 (the empty prefix)
		{"${ver%*}", "v1.2."}, // bash: v1.2.3
		{"${ver##*}", ""},
		{"${ver%.?}", "v1.2"},
		{"${ver%[0-9]}", "v1.2.3"}, // the set is read backwards: "]9-0[" is malformed
		{"${ver%]3[}", "v1.2."},    // ... and "]3[" read backwards is "[3]"
		{"${ver#[]}", "v1.2.3"},
		{"${ver#\\v}", "1.2.3"},
		{"${ver#${v}}", "1.2.3"},
		{"${ver###}", "v1.2.3"},
		{"${hashy###}", "#a#"}, // "##" then the pattern "#"
		{"${hashy#a}", "##a#"},
		// Literal replacement.
		{"${slashy/x/z}", "z/y/x/y"},
		{"${slashy//x/z}", "z/y/z/y"},
		{"${slashy/#x/z}", "z/y/x/y"},
		{"${slashy/%y/z}", "x/y/x/z"},
		{"${slashy/%x/z}", "x/y/x/y"},
		{"${slashy//\\//-}", "x-y-x-y"},
		{"${slashy//x/}", "/y//y"},
		{"${slashy/x/}", "/y/x/y"},
		{"${slashy/#x/}", "x/y/x/y"}, // no replacement: left alone
		{"${slashy/%y/}", "x/y/x/y"},
		{"${name/#/pre-}", "pre-podinfo"},
		{"${name/%/-post}", "podinfo-post"},
		{"${name///-}", "-p-o-d-i-n-f-o-"},
		{"${name//o/${ver}}", "pv1.2.3dinfv1.2.3"},
		{"${name//${o}/0}", "p0dinf0"},
		{"${name/o//0}", "p0dinfo"}, // a run of slashes is one delimiter
		{"${name/d$$/x}", "podinfo"},
		{"${dollar/$$/S}", "aSb"},
		{"${name/o/$$}", "p$dinfo"},
		{"${name/o/a\\\\b}", "pa\\bdinfo"},
		{"${name/o}/x}", "podinfo"}, // the pattern runs to the next "/": "o}"
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

// TestExpandRefusesWhatFluxRefuses checks the forms that Flux's parser
// rejects, ${var-word}, ${var+word} and ${var?word} among them.
func TestExpandRefusesWhatFluxRefuses(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"${", "missing closing brace"},
		{"a ${name", "missing closing brace"},
		{"${name:=x", "missing closing brace"},
		{"${name:=${x}", "missing closing brace"},
		{"${}", "missing variable name"},
		{"${#}", "missing variable name"},
		{"${##name}", "missing variable name"},
		{"${#name:1}", "expected the closing brace"},
		{"${a b}", `unexpected ' '`},
		{"${a.b}", `unexpected '.'`},
		{"${name-x}", "${var:-...}"},
		{"${name+x}", "${var:+...}"},
		{"${name?x}", "${var:?...}"},
		{"${name^x}", "expected the closing brace"},
		{"${name^^^}", "expected the closing brace"},
		{"${name:}", "expected an offset"},
		{"${name::2}", "expected an offset"},
		{"${name:1:}", "expected a length"},
		{"${name:1${x}}", "expected ':' or the closing brace"},
		{"${name#}", "expected a pattern"},
		{"${name%%}", "expected a pattern"},
		{"${name#a${x}}", "expected the closing brace"},
		{"${name/o}", `missing "/" after the pattern`},
		{"${name//}", `missing "/" after the pattern`},
		{"${name/a${x}/b}", "expected '/' after the pattern"},
		{"${name/a/b${x}}", "expected the closing brace"},
		{"${name/a/b", "missing closing brace"},
		{strings.Repeat("${a:=", maxNesting+1) + strings.Repeat("}", maxNesting+1), "nested more than"},
	}
	for _, tt := range tests {
		_, err := Expand(tt.in, lookupTestVars, false)
		var serr *SyntaxError
		if !errors.As(err, &serr) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Expand(%q) error = %v, want a SyntaxError containing %q", tt.in, err, tt.want)
		}
	}
}

// TestExpandStrict follows Flux's strict mode: a form that reads an unset
// variable fails, a default form does not, and a nested expression is
// checked even when the outer variable is set.
func TestExpandStrict(t *testing.T) {
	for _, in := range []string{
		"${missing}", "${#missing}", "${missing^}", "${missing^^}", "${missing,}", "${missing,,}",
		"${missing:0}", "${missing:0:10}", "${missing/a/b}", "${missing//a/b}", "${missing/#a/b}",
		"${missing/%a/b}", "${missing#a}", "${missing##a}", "${missing%a}", "${missing%%a}",
		"${name:=${missing}}", "${name:${missing}}", "${name/o/${missing}}",
	} {
		_, err := Expand(in, lookupTestVars, true)
		if !errors.Is(err, ErrVariableNotSet) || !strings.Contains(err.Error(), `"missing"`) {
			t.Errorf("strict Expand(%q) error = %v, want ErrVariableNotSet naming the variable", in, err)
		}
	}
	for in, want := range map[string]string{
		"${missing:=d}": "d", "${missing:-d}": "d", "${missing=d}": "d", "${missing:+d}": "d",
		"${missing:?d}": "d", "${missing:=}": "", "${name}": "podinfo", "${empty}": "", "$${missing}": "${missing}",
	} {
		got, err := Expand(in, lookupTestVars, true)
		if err != nil || got != want {
			t.Errorf("strict Expand(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	// The whole text is parsed first: a syntax error after an unset
	// variable is what is reported.
	_, err := Expand("${missing} ${a b}", lookupTestVars, true)
	var serr *SyntaxError
	if !errors.As(err, &serr) {
		t.Errorf("strict Expand with an unset variable and a later syntax error = %v, want the SyntaxError", err)
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
		{"[^a-c]x", "bx", false},
		{"[^a-c]x", "dx", true},
		{"[!a]", "!", true},
		{"[\\]]", "]", true},
		{"[*]", "*", true},
		{"[*]", "a", false},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"*.*.*", "a.b.c", true},
		{"*a*a*a*b", strings.Repeat("a", 40), false},
	} {
		g, ok := compileGlob(tt.pattern)
		if !ok {
			t.Errorf("compileGlob(%q) failed", tt.pattern)
			continue
		}
		if got := g.match(tt.s); got != tt.want {
			t.Errorf("glob %q matching %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	for _, bad := range []string{"[", "[]", "[]]", "[abc", "[a-]", "[-a]", "\\", "a[", "[a-\\"} {
		if _, ok := compileGlob(bad); ok {
			t.Errorf("compileGlob(%q) accepted a pattern Flux's matcher rejects", bad)
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
