package gitserver

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
)

// LargeRepo describes a generated repository for benchmarks.
type LargeRepo struct {
	// Files is the number of files in the first commit.
	Files int
	// FileSize is the size of each file in bytes.
	FileSize int
	// Commits is the number of commits; each after the first rewrites
	// ChangedPerCommit files.
	Commits int
	// ChangedPerCommit is how many files each later commit rewrites.
	ChangedPerCommit int
}

// InitLarge creates the bare repository root/name with the history l
// describes on DefaultBranch, streaming it through `git fast-import` (much
// faster than a work tree and one commit command at a time). Contents are
// pseudo-random but the same for the same l.
func InitLarge(root, name string, l LargeRepo) (string, error) {
	bare, err := InitBare(root, name)
	if err != nil {
		return "", err
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Env = isolatedEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	werr := writeLarge(in, l)
	cerr := in.Close()
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("git fast-import in %s: %w: %s", bare, err, stderr.String())
	}
	if werr != nil {
		return "", werr
	}
	return bare, cerr
}

func writeLarge(w io.Writer, l LargeRepo) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	content := make([]byte, l.FileSize)
	fill := func() {
		for i := range content {
			content[i] = 'a' + byte(rng.IntN(26))
		}
		if len(content) > 0 {
			content[len(content)-1] = '\n'
		}
	}
	path := func(i int) string { return fmt.Sprintf("dir%03d/file%05d.txt", i%100, i) }
	for c := 0; c < l.Commits; c++ {
		fmt.Fprintf(bw, "commit refs/heads/%s\n", DefaultBranch)
		fmt.Fprintf(bw, "author %s <%s> %d +0000\n", AuthorName, AuthorEmail, Epoch+60*c)
		fmt.Fprintf(bw, "committer %s <%s> %d +0000\n", AuthorName, AuthorEmail, Epoch+60*c)
		msg := fmt.Sprintf("commit %d\n", c)
		fmt.Fprintf(bw, "data %d\n%s\n", len(msg), msg)
		n, start := l.ChangedPerCommit, 0
		if c == 0 {
			n = l.Files
		} else if l.Files > 0 {
			start = rng.IntN(l.Files)
		}
		for i := 0; i < n && l.Files > 0; i++ {
			fill()
			fmt.Fprintf(bw, "M 100644 inline %s\ndata %d\n", path((start+i)%l.Files), len(content))
			bw.Write(content)
			bw.WriteString("\n")
		}
	}
	return bw.Flush()
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
