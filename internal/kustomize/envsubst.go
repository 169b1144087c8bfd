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
// arguments of other expressions, so that a manifest cannot exhaust the
// stack. Flux sets no bound; no real manifest comes near this one.
const maxNesting = 1000

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
// returns. It accepts the forms that Flux's post-build substitution accepts
// and renders them as Flux does, including where Flux departs from bash:
//
//   - ${var} is the value of var;
//   - ${var:-word}, ${var:=word}, ${var:+word}, ${var:?word} and ${var=word}
//     are all the value of var when it is not empty and word otherwise
//     (Flux gives the five one meaning: ":+" does not swap the two and ":?"
//     does not fail);
//   - ${#var} is the length of the value, in bytes;
//   - ${var:offset} and ${var:offset:length} cut a substring, counted in
//     bytes; a negative offset or length counts from the end, and an offset
//     or length that is not an integer ("${var: -1}" included) leaves the
//     value whole;
//   - ${var^}, ${var^^}, ${var,} and ${var,,} change the case of the first
//     or every character;
//   - ${var#glob}, ${var##glob}, ${var%glob} and ${var%%glob} remove the
//     shortest or longest prefix or suffix, at least one byte long, that a
//     glob matches ("*" matches any text, "/" included; "[^...]" negates a
//     set; a set in a suffix pattern is read backwards, as Flux reads it);
//   - ${var/old/new}, ${var//old/new}, ${var/#old/new} and ${var/%old/new}
//     replace the first, every, a leading or a trailing occurrence of the
//     literal text old; "\/" and "$$" in old and new are "/" and "$", and
//     ${var/#old/} and ${var/%old/} leave the value as it is;
//   - "$$" is a literal "$", so $${var} renders as ${var}; a "$" that starts
//     neither is kept, so $var and $1 are left alone.
//
// The word, offset, length, glob, old and new of an expression may be a
// nested ${...} expression. ${var-word}, ${var+word} and ${var?word} are
// syntax errors, as in Flux. A variable that lookup does not know is
// empty, unless strict is set (Flux's StrictPostBuildSubstitutions): then
// an expression that reads it without supplying a word of its own fails
// with ErrVariableNotSet. The whole of s is parsed before anything is
// looked up, so a syntax error anywhere wins over an unset variable.
func Expand(s string, lookup func(name string) (string, bool), strict bool) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	p := &parser{src: s}
	nodes, err := p.document()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(s))
	ev := evaluator{lookup: lookup, strict: strict}
	for _, n := range nodes {
		v, err := ev.node(n)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// node is literal text, or an expression when fn is set.
type node struct {
	text string
	fn   *call
}

// call is one ${...} expression: op applied to the variable param with
// the evaluated args.
type call struct {
	param string
	// op is "" for ${var}, "#" for ${#var} and otherwise the operator as
	// written: ":-", "=", ",,", "##", ":", "//" and so on.
	op   string
	args []node
}

// defaultOps are the operators that supply a value of their own, which
// exempts them from strict mode.
func isDefaultOp(op string) bool {
	switch op {
	case ":-", ":=", ":+", ":?", "=":
		return true
	}
	return false
}

type parser struct {
	src   string
	pos   int
	depth int
}

func (p *parser) peekAt(n int) byte {
	if p.pos+n < len(p.src) {
		return p.src[p.pos+n]
	}
	return 0
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) atExpr() bool { return strings.HasPrefix(p.src[p.pos:], "${") }

func (p *parser) fail(start int, format string, args ...any) error {
	expr := p.src[start:min(start+64, len(p.src))]
	if i := strings.IndexAny(expr, "}\n"); i >= 0 {
		expr = expr[:i+1]
		expr = strings.TrimSuffix(expr, "\n")
	}
	return &SyntaxError{Offset: start, Expr: expr, Reason: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at the position, or the end of the text.
func (p *parser) unexpected(start int, what string) error {
	if p.eof() {
		return p.fail(start, "missing closing brace")
	}
	return p.fail(start, "unexpected %q, expected %s", p.src[p.pos], what)
}

// document reads the whole source: text, "$$" escapes and expressions.
func (p *parser) document() ([]node, error) {
	var out []node
	var text strings.Builder
	for !p.eof() {
		i := strings.IndexByte(p.src[p.pos:], '$')
		if i < 0 {
			text.WriteString(p.src[p.pos:])
			break
		}
		text.WriteString(p.src[p.pos : p.pos+i])
		p.pos += i
		switch p.peekAt(1) {
		case '{':
			if text.Len() > 0 {
				out = append(out, node{text: text.String()})
				text.Reset()
			}
			c, err := p.expr()
			if err != nil {
				return nil, err
			}
			out = append(out, node{fn: c})
		case '$':
			text.WriteByte('$')
			p.pos += 2
		default:
			text.WriteByte('$')
			p.pos++
		}
	}
	if text.Len() > 0 {
		out = append(out, node{text: text.String()})
	}
	return out, nil
}

// expr parses the expression that starts with "${" at the position and
// leaves the position after its closing brace.
func (p *parser) expr() (*call, error) {
	start := p.pos
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.fail(start, "expressions nested more than %d deep", maxNesting)
	}
	p.pos += 2 // "${"
	c := &call{}
	if p.peekAt(0) == '#' {
		p.pos++
		c.op = "#"
		if c.param = p.ident(); c.param == "" {
			if p.eof() {
				return nil, p.fail(start, "missing closing brace")
			}
			return nil, p.fail(start, "missing variable name after ${#")
		}
		return c, p.closeBrace(start)
	}
	if c.param = p.ident(); c.param == "" {
		if p.eof() {
			return nil, p.fail(start, "missing closing brace")
		}
		return nil, p.fail(start, "missing variable name")
	}
	if p.eof() {
		return nil, p.fail(start, "missing closing brace")
	}
	switch ch := p.src[p.pos]; ch {
	case '}':
		p.pos++
		return c, nil
	case ':':
		if next := p.peekAt(1); next == '-' || next == '=' || next == '+' || next == '?' {
			c.op = p.src[p.pos : p.pos+2]
			p.pos += 2
			return c, p.words(start, c)
		}
		c.op = ":"
		p.pos++
		return c, p.substring(start, c)
	case '=':
		c.op = "="
		p.pos++
		return c, p.words(start, c)
	case ',', '^':
		n := 1
		if next := p.peekAt(1); next == ',' || next == '^' {
			n = 2
		}
		c.op = p.src[p.pos : p.pos+n]
		p.pos += n
		return c, p.closeBrace(start)
	case '#', '%':
		n := 1
		if p.peekAt(1) == ch {
			n = 2
		}
		c.op = p.src[p.pos : p.pos+n]
		p.pos += n
		arg, err := p.param(start, "}", false, "a pattern")
		if err != nil {
			return nil, err
		}
		c.args = []node{arg}
		return c, p.closeBrace(start)
	case '/':
		return c, p.replace(start, c)
	case '-', '+', '?':
		return nil, p.fail(start, "the ${var%c...} form is not supported (as in Flux): write ${var:%c...}", ch, ch)
	default:
		return nil, p.fail(start, "unexpected %q after the variable name", ch)
	}
}

// ident reads a variable name: letters, digits and underscores.
func (p *parser) ident() string {
	start := p.pos
	for !p.eof() {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		p.pos += n
	}
	return p.src[start:p.pos]
}

func (p *parser) closeBrace(start int) error {
	if p.peekAt(0) != '}' || p.eof() {
		return p.unexpected(start, "the closing brace")
	}
	p.pos++
	return nil
}

// param reads one argument: a nested expression, or text that runs up to
// a byte of stops, the start of a nested expression or the end. The text
// must not be empty. With escapes, "$$" is "$", "\/" is "/" and "\\" is
// "\".
func (p *parser) param(start int, stops string, escapes bool, what string) (node, error) {
	if p.eof() {
		return node{}, p.fail(start, "missing closing brace")
	}
	if p.atExpr() {
		c, err := p.expr()
		return node{fn: c}, err
	}
	from := p.pos
	var b strings.Builder
	for !p.eof() && !p.atExpr() {
		c := p.src[p.pos]
		if escapes {
			next := p.peekAt(1)
			if (c == '$' && next == '$') || (c == '\\' && (next == '/' || next == '\\')) {
				b.WriteByte(next)
				p.pos += 2
				continue
			}
		}
		if strings.IndexByte(stops, c) >= 0 {
			break
		}
		b.WriteByte(c)
		p.pos++
	}
	if p.pos == from {
		return node{}, p.unexpected(start, what)
	}
	return node{text: b.String()}, nil
}

// words reads the word of a default form: any run of text and nested
// expressions up to the closing brace, joined.
func (p *parser) words(start int, c *call) error {
	for {
		if !p.eof() && p.src[p.pos] == '}' {
			p.pos++
			return nil
		}
		arg, err := p.param(start, "}", false, "a word")
		if err != nil {
			return err
		}
		c.args = append(c.args, arg)
	}
}

// substring reads the offset and the optional length of ${var:offset:length}.
func (p *parser) substring(start int, c *call) error {
	offset, err := p.param(start, ":}", false, "an offset")
	if err != nil {
		return err
	}
	c.args = append(c.args, offset)
	switch {
	case p.eof():
		return p.fail(start, "missing closing brace")
	case p.src[p.pos] == '}':
		p.pos++
		return nil
	case p.src[p.pos] != ':':
		return p.unexpected(start, "':' or the closing brace after the offset")
	}
	for !p.eof() && p.src[p.pos] == ':' { // Flux reads a run of colons as one
		p.pos++
	}
	length, err := p.param(start, "}", false, "a length")
	if err != nil {
		return err
	}
	c.args = append(c.args, length)
	return p.closeBrace(start)
}

// replace reads the operator, pattern and replacement of ${var/old/new}.
// The pattern runs to the next "/", past any "}", as in Flux.
func (p *parser) replace(start int, c *call) error {
	n := 1
	if next := p.peekAt(1); next == '/' || next == '#' || next == '%' {
		n = 2
	}
	c.op = p.src[p.pos : p.pos+n]
	p.pos += n
	if p.peekAt(0) == '/' && !p.eof() {
		c.args = append(c.args, node{})
	} else {
		old, err := p.param(start, "/", true, "a pattern")
		if err != nil {
			return err
		}
		c.args = append(c.args, old)
	}
	if p.eof() {
		return p.fail(start, "missing \"/\" after the pattern: write ${var/pattern/replacement}")
	}
	if p.src[p.pos] != '/' {
		return p.unexpected(start, "'/' after the pattern")
	}
	for !p.eof() && p.src[p.pos] == '/' { // Flux reads a run of slashes as one
		p.pos++
	}
	if !p.eof() && p.src[p.pos] == '}' {
		p.pos++
		return nil
	}
	repl, err := p.param(start, "}", true, "a replacement")
	if err != nil {
		return err
	}
	c.args = append(c.args, repl)
	return p.closeBrace(start)
}

type evaluator struct {
	lookup func(string) (string, bool)
	strict bool
}

func (ev *evaluator) node(n node) (string, error) {
	if n.fn == nil {
		return n.text, nil
	}
	return ev.call(n.fn)
}

// call evaluates the arguments first, then the variable, as Flux does.
func (ev *evaluator) call(c *call) (string, error) {
	args := make([]string, len(c.args))
	for i, a := range c.args {
		v, err := ev.node(a)
		if err != nil {
			return "", err
		}
		args[i] = v
	}
	v, ok := ev.lookup(c.param)
	if !ok && ev.strict && !isDefaultOp(c.op) {
		return "", fmt.Errorf("%w: %q", ErrVariableNotSet, c.param)
	}
	return apply(c.op, v, args), nil
}

func apply(op, v string, args []string) string {
	switch op {
	case "":
		return v
	case "^^":
		return strings.ToUpper(v)
	case ",,":
		return strings.ToLower(v)
	case "^", ",":
		r, n := utf8.DecodeRuneInString(v)
		if n == 0 {
			return v
		}
		if op == "^" {
			return string(unicode.ToUpper(r)) + v[n:]
		}
		return string(unicode.ToLower(r)) + v[n:]
	case "#":
		if len(args) == 0 {
			return strconv.Itoa(len(v))
		}
		return trimPrefixGlob(v, args[0], false)
	case "##":
		return trimPrefixGlob(v, args[0], true)
	case "%":
		return trimSuffixGlob(v, args[0], false)
	case "%%":
		return trimSuffixGlob(v, args[0], true)
	case ":":
		return cut(v, args)
	case "/", "//":
		count := 1
		if op == "//" {
			count = -1
		}
		repl := ""
		if len(args) > 1 {
			repl = args[1]
		}
		return strings.Replace(v, args[0], repl, count)
	case "/#":
		if len(args) == 2 && strings.HasPrefix(v, args[0]) {
			return args[1] + v[len(args[0]):]
		}
		return v
	case "/%":
		if len(args) == 2 && strings.HasSuffix(v, args[0]) {
			return v[:len(v)-len(args[0])] + args[1]
		}
		return v
	case ":-", ":=", ":+", ":?", "=":
		if v == "" && len(args) > 0 {
			return strings.Join(args, "")
		}
		return v
	}
	// Mixed case operators such as "^," change nothing.
	return v
}

// cut returns the part of v that ${v:offset} or ${v:offset:length}
// selects, in bytes.
func cut(v string, args []string) string {
	pos, err := strconv.Atoi(args[0])
	if err != nil {
		return v
	}
	if pos < 0 {
		pos = max(len(v)+pos, 0)
	}
	if len(args) == 1 {
		if pos < len(v) {
			return v[pos:]
		}
		return ""
	}
	length, err := strconv.Atoi(args[1])
	if err != nil {
		return v
	}
	if pos >= len(v) {
		return ""
	}
	if length < 0 {
		end := len(v) + length
		if end < pos {
			return ""
		}
		return v[pos:end]
	}
	if length >= len(v)-pos {
		return v[pos:]
	}
	return v[pos : pos+length]
}

// trimPrefixGlob removes the shortest (or longest) prefix of v, at least
// one byte long, that pattern matches. A malformed pattern matches nothing.
func trimPrefixGlob(v, pattern string, longest bool) string {
	g, ok := compileGlob(pattern)
	if !ok {
		return v
	}
	if longest {
		for n := len(v); n >= 1; n-- {
			if g.match(v[:n]) {
				return v[n:]
			}
		}
		return v
	}
	for n := 1; n <= len(v); n++ {
		if g.match(v[:n]) {
			return v[n:]
		}
	}
	return v
}

// trimSuffixGlob removes the shortest (or longest) suffix of v that
// pattern matches, the way Flux does: it reverses v and the pattern, the
// pattern's sets included, and removes a prefix.
func trimSuffixGlob(v, pattern string, longest bool) string {
	return reverseRunes(trimPrefixGlob(reverseRunes(v), reverseRunes(pattern), longest))
}

func reverseRunes(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// glob is a compiled shell pattern: "*" matches any bytes, "/" included,
// "?" one character, "[...]" one character of a set ("[^...]" negated,
// "a-z" ranges, a backslash quoting a member) and a backslash quotes the
// next byte.
type glob []globItem

type globItem struct {
	kind   byte // '*', '?', '[' or 'c' for a literal byte
	lit    byte
	negate bool
	ranges [][2]rune
}

// compileGlob reads pattern with the rules of Flux's matcher; it reports
// false for a pattern that matcher rejects (an empty or unterminated set,
// a set member that starts with "-" or "]", a trailing backslash).
func compileGlob(pattern string) (glob, bool) {
	var g glob
	for i := 0; i < len(pattern); {
		switch pattern[i] {
		case '*':
			if len(g) == 0 || g[len(g)-1].kind != '*' {
				g = append(g, globItem{kind: '*'})
			}
			i++
		case '?':
			g = append(g, globItem{kind: '?'})
			i++
		case '\\':
			if i+1 >= len(pattern) {
				return nil, false
			}
			g = append(g, globItem{kind: 'c', lit: pattern[i+1]})
			i += 2
		case '[':
			i++
			it := globItem{kind: '['}
			if i < len(pattern) && pattern[i] == '^' {
				it.negate = true
				i++
			}
			for {
				if i < len(pattern) && pattern[i] == ']' && len(it.ranges) > 0 {
					i++
					break
				}
				lo, n, ok := setMember(pattern[i:])
				if !ok {
					return nil, false
				}
				i += n
				hi := lo
				if pattern[i] == '-' {
					if hi, n, ok = setMember(pattern[i+1:]); !ok {
						return nil, false
					}
					i += 1 + n
				}
				it.ranges = append(it.ranges, [2]rune{lo, hi})
			}
			g = append(g, it)
		default:
			g = append(g, globItem{kind: 'c', lit: pattern[i]})
			i++
		}
	}
	return g, true
}

// setMember reads one, possibly quoted, member of a set. It fails, as
// Flux's matcher does, when nothing follows the member.
func setMember(s string) (rune, int, bool) {
	if s == "" || s[0] == '-' || s[0] == ']' {
		return 0, 0, false
	}
	w := 0
	if s[0] == '\\' {
		s, w = s[1:], 1
		if s == "" {
			return 0, 0, false
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	if (r == utf8.RuneError && n == 1) || n == len(s) {
		return 0, 0, false
	}
	return r, w + n, true
}

// matchAt matches a single-width item at the start of s and returns the
// number of bytes it takes.
func (it *globItem) matchAt(s string) (int, bool) {
	switch it.kind {
	case 'c':
		return 1, s[0] == it.lit
	case '?':
		_, n := utf8.DecodeRuneInString(s)
		return n, true
	}
	r, n := utf8.DecodeRuneInString(s)
	in := false
	for _, rg := range it.ranges {
		if rg[0] <= r && r <= rg[1] {
			in = true
			break
		}
	}
	return n, in != it.negate
}

// match reports whether g matches all of s. It backtracks only to the last
// star, which is enough when a star matches anything, so it never takes
// exponential time.
func (g glob) match(s string) bool {
	gi, si := 0, 0
	starG, starS := -1, 0
	for {
		if gi < len(g) {
			if g[gi].kind == '*' {
				starG, starS = gi, si
				gi++
				continue
			}
			if si < len(s) {
				if n, ok := g[gi].matchAt(s[si:]); ok {
					gi++
					si += n
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starG < 0 || starS >= len(s) {
			return false
		}
		starS++
		gi, si = starG+1, starS
	}
}
