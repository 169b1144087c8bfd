package git

import (
	"context"
	"testing"

	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

// BenchmarkCheckout measures a shallow checkout and a LatestRevision check
// of a repository of 2,000 files (4 KiB each) over 20 commits, served by
// git http-backend on loopback.
func BenchmarkCheckout(b *testing.B) {
	root := b.TempDir()
	if _, err := gitserver.InitLarge(root, "large.git", gitserver.LargeRepo{
		Files: 2000, FileSize: 4096, Commits: 20, ChangedPerCommit: 50,
	}); err != nil {
		b.Fatal(err)
	}
	srv := gitserver.StartHTTP(b, root, gitserver.HTTPOptions{})
	url := srv.RepoURL("large.git")
	ctx := context.Background()

	b.Run("shallow-branch", func(b *testing.B) {
		for b.Loop() {
			if _, err := Checkout(ctx, url, b.TempDir(), Options{Ref: Ref{Branch: "main"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full-history", func(b *testing.B) {
		for b.Loop() {
			if _, err := Checkout(ctx, url, b.TempDir(), Options{Ref: Ref{Branch: "main"}, FullHistory: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("latest-revision", func(b *testing.B) {
		for b.Loop() {
			if _, err := LatestRevision(ctx, url, Options{Ref: Ref{Branch: "main"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
