package kustomize

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNesting bounds how deeply ${...} expressions may nest inside the
// default, offset or replacement words of other expressions.
const maxNesting = 32

// ErrVariableNotSet is returned, in strict mode, for a ${var} whose
// variable has no value and no default.
var ErrVariableNotSet = errors.New("variable not set")

// SyntaxError reports a ${...} expression that does not parse.
type SyntaxError struct {
	// Offset is the byte offset of the "${" that starts the expression.
	Offset int
	// Expr is the start of the expression, up to its closing brace, the
	// end of the line or 64 bytes, whichever comes first, so that an error
	// does not carry the text that follows (a Secret's other values).
	Expr string
	// Reason says what is wrong.
	Reason string
}

// Error describes the expression and what is wrong with it.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bad substitution %q at offset %d: %s", e.Expr, e.Offset, e.Reason)
}

// Expand replaces the ${...} expressions of s with the values that lookup
// returns, following the shell-like rules that Flux's post-build
// substitution uses:
//
//   - ${var} is the value of var;
//   - ${var:=word}, ${var:-word}, ${var=word} and ${var-word} are word when
//     var is unset or empty (Flux makes no difference between the four);
//   - ${#var} is the length of the value, in characters;
//   - ${var^}, ${var^^}, ${var,} and ${var,,} change the case of the first
//     or every character;
//   - ${var:offset} and ${var:offset:length} cut a substring, in characters;
//     a negative offset or length counts from the end;
//   - ${var#glob}, ${var##glob}, ${var%glob} and ${var%%glob} remove the
//     shortest or longest prefix or suffix matching a shell glob;
//   - ${var/old/new}, ${var//old/new}, ${var/#old/new} and ${var/%old/new}
//     replace the first, every, a leading or a trailing occurrence of the
//     literal text old;
//   - "$$" is a literal "$", so $${var} renders as ${var}; a "$" that starts
//     neither is kept, so $var and $1 are left alone.
//
// Words may hold nested ${...} expressions. A variable that lookup does not
// know is empty, unless strict is set: then an expression that reads it
// without a default fails with ErrVariableNotSet.
func Expand(s string, lookup func(name string) (string, bool), strict bool) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	e := &expander{src: s, lookup: lookup, strict: strict}
	var b strings.Builder
	b.Grow(len(s))
	for e.pos < len(s) {
		i := strings.IndexByte(s[e.pos:], '$')
		if i < 0 {
			b.WriteString(s[e.pos:])
			break
		}
		b.WriteString(s[e.pos : e.pos+i])
		e.pos += i
		switch e.peekAt(1) {
		case '$':
			b.WriteByte('$')
			e.pos += 2
		case '{':
			v, err := e.expr(0)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		default:
			b.WriteByte('$')
			e.pos++
		}
	}
	return b.String(), nil
}

type expander struct {
	src    string
	pos    int
	lookup func(string) (string, bool)
	strict bool
}

// peekAt returns the byte n bytes ahead of the position, or 0 at the end.
func (e *expander) peekAt(n int) byte {
	if e.pos+n < len(e.src) {
		return e.src[e.pos+n]
	}
	return 0
}

func (e *expander) fail(start int, format string, args ...any) error {
	expr := e.src[start:min(start+64, len(e.src))]
	if i := strings.IndexAny(expr, "}\n"); i >= 0 {
		expr = expr[:i+1]
		expr = strings.TrimSuffix(expr, "\n")
	}
	return &SyntaxError{Offset: start, Expr: expr, Reason: fmt.Sprintf(format, args...)}
}

// expr evaluates the expression that starts with "${" at the position and
// leaves the position after its closing brace.
func (e *expander) expr(depth int) (string, error) {
	start := e.pos
	if depth > maxNesting {
		return "", e.fail(start, "expressions nested more than %d deep", maxNesting)
	}
	e.pos += 2 // "${"
	if e.peekAt(0) == '#' {
		e.pos++
		name := e.ident()
		if name == "" {
			return "", e.fail(start, "missing variable name after ${#")
		}
		if err := e.closeBrace(start); err != nil {
			return "", err
		}
		v, err := e.value(name, false)
		return strconv.Itoa(utf8.RuneCountInString(v)), err
	}
	name := e.ident()
	if name == "" {
		if e.pos >= len(e.src) {
			return "", e.fail(start, "missing closing brace")
		}
		return "", e.fail(start, "missing variable name")
	}
	switch c := e.peekAt(0); c {
	case '}':
		e.pos++
		return e.value(name, false)
	case ':':
		switch e.peekAt(1) {
		case '=', '-':
			e.pos += 2
			return e.withDefault(start, name, depth)
		case '?', '+':
			return "", e.fail(start, "the ${var:%c...} form is not supported", e.peekAt(1))
		}
		e.pos++
		return e.substring(start, name, depth)
	case '=', '-':
		e.pos++
		return e.withDefault(start, name, depth)
	case '^', ',':
		e.pos++
		op := string(c)
		if e.peekAt(0) == c {
			e.pos++
			op += string(c)
		}
		if err := e.closeBrace(start); err != nil {
			return "", err
		}
		v, err := e.value(name, false)
		return changeCase(v, op), err
	case '#', '%':
		e.pos++
		longest := false
		if e.peekAt(0) == c {
			e.pos++
			longest = true
		}
		pattern, err := e.word(start, "}", false, depth)
		if err != nil {
			return "", err
		}
		e.pos++
		v, err := e.value(name, false)
		if c == '#' {
			return trimPrefixGlob(v, pattern, longest), err
		}
		return trimSuffixGlob(v, pattern, longest), err
	case '/':
		e.pos++
		return e.replace(start, name, depth)
	case 0:
		return "", e.fail(start, "missing closing brace")
	default:
		return "", e.fail(start, "unexpected %q after the variable name", c)
	}
}

// ident reads a variable name: letters, digits and underscores.
func (e *expander) ident() string {
	start := e.pos
	for e.pos < len(e.src) {
		r, n := utf8.DecodeRuneInString(e.src[e.pos:])
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		e.pos += n
	}
	return e.src[start:e.pos]
}

func (e *expander) closeBrace(start int) error {
	if e.peekAt(0) != '}' {
		if e.pos >= len(e.src) {
			return e.fail(start, "missing closing brace")
		}
		return e.fail(start, "unexpected %q, expected the closing brace", e.src[e.pos])
	}
	e.pos++
	return nil
}

// value looks name up; hasDefault tells whether the expression supplies a
// value of its own, which exempts it from strict mode.
func (e *expander) value(name string, hasDefault bool) (string, error) {
	v, ok := e.lookup(name)
	if !ok && e.strict && !hasDefault {
		return "", fmt.Errorf("%w: %q", ErrVariableNotSet, name)
	}
	return v, nil
}

// word evaluates text up to, not including, the first byte of stops that
// is not inside a nested expression. With escapes, "$$" is "$" and a
// backslash escapes "/" and itself, as in the patterns of ${var/old/new}.
func (e *expander) word(start int, stops string, escapes bool, depth int) (string, error) {
	var b strings.Builder
	for {
		if e.pos >= len(e.src) {
			return "", e.fail(start, "missing closing brace")
		}
		c := e.src[e.pos]
		switch {
		case strings.IndexByte(stops, c) >= 0:
			return b.String(), nil
		case c == '$' && e.peekAt(1) == '{':
			v, err := e.expr(depth + 1)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		case escapes && c == '$' && e.peekAt(1) == '$':
			b.WriteByte('$')
			e.pos += 2
		case escapes && c == '\\' && (e.peekAt(1) == '/' || e.peekAt(1) == '\\'):
			b.WriteByte(e.peekAt(1))
			e.pos += 2
		default:
			b.WriteByte(c)
			e.pos++
		}
	}
}

func (e *expander) withDefault(start int, name string, depth int) (string, error) {
	def, err := e.word(start, "}", false, depth)
	if err != nil {
		return "", err
	}
	e.pos++
	v, err := e.value(name, true)
	if v == "" {
		return def, err
	}
	return v, err
}

func (e *expander) substring(start int, name string, depth int) (string, error) {
	offset, err := e.word(start, ":}", false, depth)
	if err != nil {
		return "", err
	}
	length, hasLength := "", false
	if e.src[e.pos] == ':' {
		e.pos++
		hasLength = true
		if length, err = e.word(start, "}", false, depth); err != nil {
			return "", err
		}
	}
	e.pos++
	v, err := e.value(name, false)
	if err != nil {
		return "", err
	}
	return cut(v, offset, length, hasLength), nil
}

func (e *expander) replace(start int, name string, depth int) (string, error) {
	// mode: '1' replaces the first occurrence, '*' every one, '#' a
	// leading one and '%' a trailing one.
	mode := byte('1')
	switch c := e.peekAt(0); c {
	case '/':
		mode = '*'
		e.pos++
	case '#', '%':
		mode = c
		e.pos++
	}
	old, err := e.word(start, "/}", true, depth)
	if err != nil {
		return "", err
	}
	repl := ""
	if e.src[e.pos] == '/' {
		e.pos++
		if repl, err = e.word(start, "}", true, depth); err != nil {
			return "", err
		}
	}
	e.pos++
	v, err := e.value(name, false)
	if err != nil {
		return "", err
	}
	switch mode {
	case '#':
		if strings.HasPrefix(v, old) {
			return repl + v[len(old):], nil
		}
		return v, nil
	case '%':
		if strings.HasSuffix(v, old) {
			return v[:len(v)-len(old)] + repl, nil
		}
		return v, nil
	}
	if old == "" {
		return v, nil
	}
	if mode == '1' {
		return strings.Replace(v, old, repl, 1), nil
	}
	return strings.ReplaceAll(v, old, repl), nil
}

func changeCase(v, op string) string {
	switch op {
	case "^^":
		return strings.ToUpper(v)
	case ",,":
		return strings.ToLower(v)
	}
	r, n := utf8.DecodeRuneInString(v)
	if n == 0 {
		return v
	}
	if op == "^" {
		return string(unicode.ToUpper(r)) + v[n:]
	}
	return string(unicode.ToLower(r)) + v[n:]
}

// cut returns the substring of v that ${v:offset:length} selects. An
// offset or length that is not a number leaves v as it is, as bash does.
func cut(v, offsetText, lengthText string, hasLength bool) string {
	offset, err := strconv.Atoi(strings.TrimSpace(offsetText))
	if err != nil {
		return v
	}
	runes := []rune(v)
	n := len(runes)
	if offset < 0 {
		offset = max(n+offset, 0)
	}
	if offset >= n {
		return ""
	}
	end := n
	if hasLength {
		length, err := strconv.Atoi(strings.TrimSpace(lengthText))
		if err != nil {
			return v
		}
		if length < 0 {
			end = n + length
		} else if length < n-offset {
			end = offset + length
		}
		if end < offset {
			return ""
		}
	}
	return string(runes[offset:end])
}

// trimPrefixGlob removes the shortest (or longest) prefix of v that the
// glob pattern matches.
func trimPrefixGlob(v, pattern string, longest bool) string {
	bounds := runeBounds(v)
	if longest {
		for i := len(bounds) - 1; i >= 0; i-- {
			if globMatch(pattern, v[:bounds[i]]) {
				return v[bounds[i]:]
			}
		}
		return v
	}
	for _, b := range bounds {
		if globMatch(pattern, v[:b]) {
			return v[b:]
		}
	}
	return v
}

// trimSuffixGlob removes the shortest (or longest) suffix of v that the
// glob pattern matches.
func trimSuffixGlob(v, pattern string, longest bool) string {
	bounds := runeBounds(v)
	if longest {
		for _, b := range bounds {
			if globMatch(pattern, v[b:]) {
				return v[:b]
			}
		}
		return v
	}
	for i := len(bounds) - 1; i >= 0; i-- {
		if globMatch(pattern, v[bounds[i]:]) {
			return v[:bounds[i]]
		}
	}
	return v
}

// runeBounds returns the byte offsets of every rune boundary of v,
// including 0 and len(v).
func runeBounds(v string) []int {
	bounds := make([]int, 0, len(v)+1)
	for i := range v {
		bounds = append(bounds, i)
	}
	return append(bounds, len(v))
}

// globMatch reports whether the shell glob pattern matches all of s: "*"
// matches any text, "/" included, "?" one character, "[...]" one
// character of a set ("[!...]" or "[^...]" negated, "a-z" ranges) and a
// backslash quotes the next character. A malformed set matches nothing.
func globMatch(pattern, s string) bool {
	// Iterative matching with one backtracking point for the last star:
	// linear in practice and never exponential.
	px, sx := 0, 0
	starP, starS := -1, -1
	for sx < len(s) || px < len(pattern) {
		if px < len(pattern) {
			switch pattern[px] {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			case '[':
				if sx < len(s) {
					r, n := utf8.DecodeRuneInString(s[sx:])
					if ok, width := matchClass(pattern[px:], r); ok {
						px += width
						sx += n
						continue
					}
				}
			default:
				pc, pn := utf8.DecodeRuneInString(pattern[px:])
				if pc == '\\' && px+pn < len(pattern) {
					var qn int
					pc, qn = utf8.DecodeRuneInString(pattern[px+pn:])
					pn += qn
				}
				if sx < len(s) {
					r, n := utf8.DecodeRuneInString(s[sx:])
					if r == pc {
						px += pn
						sx += n
						continue
					}
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			_, n := utf8.DecodeRuneInString(s[starS:])
			starS += n
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}

// matchClass matches r against the set that starts pattern ("[...]") and
// returns whether it matched and the width of the set in pattern. An
// unterminated set never matches.
func matchClass(pattern string, r rune) (bool, int) {
	i := 1
	negate := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		negate = true
		i++
	}
	matched := false
	first := true
	for i < len(pattern) {
		if pattern[i] == ']' && !first {
			return matched != negate, i + 1
		}
		first = false
		lo, n := utf8.DecodeRuneInString(pattern[i:])
		if lo == '\\' && i+n < len(pattern) {
			i += n
			lo, n = utf8.DecodeRuneInString(pattern[i:])
		}
		i += n
		hi := lo
		if i+1 < len(pattern) && pattern[i] == '-' && pattern[i+1] != ']' {
			var m int
			hi, m = utf8.DecodeRuneInString(pattern[i+1:])
			i += 1 + m
		}
		if lo <= r && r <= hi {
			matched = true
		}
	}
	return false, len(pattern)
}
