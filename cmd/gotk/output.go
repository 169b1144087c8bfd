package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// ANSI colors, used only on a terminal and never when NO_COLOR is set
// (https://no-color.org).
const (
	colorReset  = "\x1b[0m"
	colorRed    = "\x1b[31m"
	colorGreen  = "\x1b[32m"
	colorYellow = "\x1b[33m"
	colorBlue   = "\x1b[34m"
)

// isTerminal reports whether a stream (os.Stdout, os.Stdin...) is a
// terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorAllowed reports whether output to w may be colored.
func colorAllowed(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	return isTerminal(w)
}

// printer writes the CLI's human-readable lines, each led by a mark.
type printer struct {
	w     io.Writer
	color bool
	tty   bool
	// inPlace is true while a progress line waits to be overwritten.
	inPlace bool
}

func newPrinter(w io.Writer) *printer {
	return &printer{w: w, color: colorAllowed(w), tty: isTerminal(w)}
}

func (p *printer) line(color, mark, format string, args ...any) {
	p.clearProgress()
	msg := fmt.Sprintf(format, args...)
	if p.color {
		fmt.Fprintf(p.w, "%s%s%s %s\n", color, mark, colorReset, msg)
		return
	}
	fmt.Fprintf(p.w, "%s %s\n", mark, msg)
}

// ok reports something that succeeded or is in order.
func (p *printer) ok(format string, args ...any) { p.line(colorGreen, "✔", format, args...) }

// fail reports something wrong.
func (p *printer) fail(format string, args ...any) { p.line(colorRed, "✗", format, args...) }

// warn reports something the user should know before going on.
func (p *printer) warn(format string, args ...any) { p.line(colorYellow, "!", format, args...) }

// step reports what is being done.
func (p *printer) step(format string, args ...any) { p.line(colorBlue, "►", format, args...) }

// progress shows a state that changes: on a terminal one line rewritten
// in place, elsewhere one line per change.
func (p *printer) progress(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !p.tty {
		fmt.Fprintf(p.w, "◎ %s\n", msg)
		return
	}
	mark := "◎"
	if p.color {
		mark = colorBlue + mark + colorReset
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s %s", mark, msg)
	p.inPlace = true
}

// clearProgress erases a progress line before other output.
func (p *printer) clearProgress() {
	if p.inPlace {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.inPlace = false
	}
}
