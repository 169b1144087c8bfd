// Command gitrepository measures what the GitRepository reconciler costs
// on a large repository, beside the git CLI doing the same work over the
// same server.
//
// It generates a bare repository (10,000 files, 50 MB, 5,000 commits by
// default; cached between runs), serves it with `git http-backend` on
// loopback, starts a real API server (envtest), and then, for each run,
// measures in separate processes so that peak memory is per scenario:
//
//   - gotk full: one Reconcile of a new GitRepository (resolve, shallow
//     fetch, checkout, ignore rules, deterministic tar.gz into storage,
//     status patch);
//   - gotk no-op: the next Reconcile of the same object (the remote head
//     has not moved and the artifact is in storage);
//   - git CLI: `git clone --depth 1` then `tar czf` of the work tree
//     without .git; and `git ls-remote` of the branch, the CLI's
//     equivalent of the no-op check.
//
// Run it from the repository root:
//
//	go run ./bench/gitrepository -runs 3
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gotk-dev/gotk/api/source/v1"
	gotkruntime "github.com/gotk-dev/gotk/internal/runtime"
	"github.com/gotk-dev/gotk/internal/testenv"
	"github.com/gotk-dev/gotk/internal/testenv/gitserver"
)

const namespace = "bench"

type options struct {
	files, fileSize, commits, changed, runs int
	cache, cpuProfile, memProfile           string
}

func main() {
	var o options
	var child childArgs
	flag.IntVar(&o.files, "files", 10000, "files in the repository")
	flag.IntVar(&o.fileSize, "file-size", 5000, "bytes per file")
	flag.IntVar(&o.commits, "commits", 5000, "commits in the history")
	flag.IntVar(&o.changed, "changed", 2, "files each commit after the first rewrites")
	flag.IntVar(&o.runs, "runs", 3, "measured runs of each scenario")
	flag.StringVar(&o.cache, "cache", defaultCache(), "directory the generated repository is kept in")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the first full gotk reconcile to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write a heap profile (after the first full gotk reconcile) to this file")
	flag.BoolVar(&child.on, "child", false, "internal: run one reconcile and print its figures")
	flag.StringVar(&child.kubeconfig, "child-kubeconfig", "", "internal: kubeconfig of the API server")
	flag.StringVar(&child.name, "name", "", "internal: GitRepository to reconcile")
	flag.StringVar(&child.storage, "storage", "", "internal: storage directory")
	flag.Parse()
	ctrl.SetLogger(gotkruntime.NewLogger("error", "console"))

	var err error
	if child.on {
		child.cpuProfile, child.memProfile = o.cpuProfile, o.memProfile
		err = runChild(child)
	} else {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func defaultCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "gotk", "bench")
}

// sample is one measured scenario run.
type sample struct {
	wall    time.Duration
	cpu     time.Duration // user + system time of the client side
	maxRSS  int64         // bytes, the process (and its waited-for children)
	baseRSS int64         // bytes, gotk children only: peak before the reconcile
	alloc   uint64
	heap    uint64 // peak bytes of Go heap objects, gotk children only
	note    string
}

func run(o options) error {
	ctx := context.Background()
	repoRoot, repo, genTime, err := ensureRepo(o)
	if err != nil {
		return err
	}
	srv, err := gitserver.NewHTTP(repoRoot, gitserver.HTTPOptions{})
	if err != nil {
		return err
	}
	defer srv.Close()
	url := srv.RepoURL(repo)

	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer env.Stop()
	work, err := os.MkdirTemp("", "gotk-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	kubeconfig, err := env.Kubeconfig(work)
	if err != nil {
		return err
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}

	results := map[string][]sample{}
	add := func(name string, s sample, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results[name] = append(results[name], s)
		return nil
	}
	for i := range o.runs {
		name := fmt.Sprintf("large-%d", i)
		storage := filepath.Join(work, "storage-"+name)
		if err := createRepo(ctx, env.Client, name, url); err != nil {
			return err
		}
		gotk := func() error {
			prof := i == 0
			s, err := gotkChild(o, kubeconfig, name, storage, prof)
			if err := add("gotk full reconcile", s, err); err != nil {
				return err
			}
			s, err = gotkChild(o, kubeconfig, name, storage, false)
			return add("gotk no-op reconcile", s, err)
		}
		cli := func() error {
			clone, czf, gz1, err := gitClone(url, filepath.Join(work, "clone-"+name), filepath.Join(work, name))
			if err != nil {
				return fmt.Errorf("git CLI: %w", err)
			}
			_ = add(cliCZF, sum(clone, czf), nil)
			_ = add(cliGzip1, sum(clone, gz1), nil)
			_ = add(cliClone, clone, nil)
			s, err := gitLsRemote(url)
			return add("git ls-remote (no-op check)", s, err)
		}
		// Alternate the order so neither side always meets a cold cache.
		steps := []func() error{gotk, cli}
		if i%2 == 1 {
			steps[0], steps[1] = cli, gotk
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		_ = os.RemoveAll(storage)
		_ = os.RemoveAll(filepath.Join(work, "clone-"+name))
	}
	report(o, url, genTime, results)
	return nil
}

// ensureRepo generates the benchmark repository once per shape and keeps it
// in the cache directory.
func ensureRepo(o options) (root, name string, took time.Duration, err error) {
	root = o.cache
	name = fmt.Sprintf("large-f%d-s%d-c%d-x%d.git", o.files, o.fileSize, o.commits, o.changed)
	if _, err := os.Stat(filepath.Join(root, name, "gotk-bench-complete")); err == nil {
		return root, name, 0, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", "", 0, err
	}
	tmp := name + ".tmp"
	_ = os.RemoveAll(filepath.Join(root, tmp))
	start := time.Now()
	fmt.Fprintf(os.Stderr, "generating %s (once; cached in %s)\n", name, root)
	dir, err := gitserver.InitLarge(root, tmp, gitserver.LargeRepo{
		Files: o.files, FileSize: o.fileSize, Commits: o.commits, ChangedPerCommit: o.changed,
	})
	if err != nil {
		return "", "", 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "gotk-bench-complete"), nil, 0o644); err != nil {
		return "", "", 0, err
	}
	_ = os.RemoveAll(filepath.Join(root, name))
	if err := os.Rename(dir, filepath.Join(root, name)); err != nil {
		return "", "", 0, err
	}
	return root, name, time.Since(start), nil
}

func createRepo(ctx context.Context, c client.Client, name, url string) error {
	return c.Create(ctx, &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Interval:  metav1.Duration{Duration: time.Hour},
			Timeout:   &metav1.Duration{Duration: 10 * time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: gitserver.DefaultBranch},
		},
	})
}

// gotkChild runs one reconcile in a child process and reads its figures.
func gotkChild(o options, kubeconfig, name, storage string, profile bool) (sample, error) {
	args := []string{"-child", "-child-kubeconfig", kubeconfig, "-name", name, "-storage", storage}
	if profile {
		if o.cpuProfile != "" {
			args = append(args, "-cpuprofile", o.cpuProfile)
		}
		if o.memProfile != "" {
			args = append(args, "-memprofile", o.memProfile)
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return sample{}, err
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return sample{}, fmt.Errorf("reading child output %q: %w", out.String(), err)
	}
	if !res.Ready {
		return sample{}, fmt.Errorf("reconcile did not end Ready: %s", res.Message)
	}
	return sample{
		wall:    time.Duration(res.Nanos),
		cpu:     time.Duration(res.CPUNanos),
		maxRSS:  res.PeakRSS,
		baseRSS: res.BaseRSS,
		alloc:   res.Alloc,
		heap:    res.HeapPeak,
		note:    fmt.Sprintf("artifact %s, %d bytes", res.Revision, res.Size),
	}, nil
}

// Names of the git CLI scenarios.
const (
	cliCZF   = "git clone --depth 1 + tar czf"
	cliGzip1 = "git clone --depth 1 + tar + gzip -1"
	cliClone = "git clone --depth 1 alone"
)

// gitClone times a shallow clone, then two ways of packing its work tree
// without .git: `tar czf` (gzip's default level 6) and `tar | gzip -1`
// (the level gotk's archives use).
func gitClone(url, dir, base string) (clone, czf, gz1 sample, err error) {
	clone, err = timed("git", "clone", "--quiet", "--depth", "1", "--branch", gitserver.DefaultBranch, url, dir)
	if err != nil {
		return
	}
	if czf, err = timed("tar", "czf", base+".tar.gz", "--exclude=.git", "-C", dir, "."); err != nil {
		return
	}
	script := fmt.Sprintf("tar cf - --exclude=.git -C %s . | gzip -1 > %s", dir, base+"-1.tar.gz")
	if gz1, err = timed("sh", "-c", script); err != nil {
		return
	}
	for _, f := range []struct {
		s    *sample
		file string
	}{{&czf, base + ".tar.gz"}, {&gz1, base + "-1.tar.gz"}} {
		fi, serr := os.Stat(f.file)
		if serr != nil {
			return clone, czf, gz1, serr
		}
		f.s.note = fmt.Sprintf("tarball %d bytes", fi.Size())
	}
	return clone, czf, gz1, nil
}

// sum is two steps run one after the other: times add up, the peak is the
// larger one.
func sum(a, b sample) sample {
	return sample{wall: a.wall + b.wall, cpu: a.cpu + b.cpu, maxRSS: max(a.maxRSS, b.maxRSS), note: b.note}
}

func gitLsRemote(url string) (sample, error) {
	return timed("git", "ls-remote", url, "refs/heads/"+gitserver.DefaultBranch)
}

// timed runs a command under GNU time, which reports the peak resident
// set of the command and its children as they really are; started from
// this (large) process directly, a child's figure would start at this
// process's size (Linux records the old address space at exec). Without
// /usr/bin/time the figure is that upper bound.
func timed(name string, args ...string) (sample, error) {
	var cmd *exec.Cmd
	gnuTime := "/usr/bin/time"
	_, err := os.Stat(gnuTime)
	useTime := err == nil
	if useTime {
		cmd = exec.Command(gnuTime, append([]string{"-f", "gotk-bench %M %U %S", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s: %w: %s", name, err, stderr.String())
	}
	s := sample{
		wall:   time.Since(start),
		cpu:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		maxRSS: maxRSS(cmd.ProcessState),
	}
	if useTime {
		for line := range strings.SplitSeq(stderr.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "gotk-bench "); ok {
				var kb int64
				var user, sys float64
				if _, err := fmt.Sscanf(v, "%d %f %f", &kb, &user, &sys); err == nil {
					s.maxRSS = kb * 1024
					s.cpu = time.Duration((user + sys) * float64(time.Second))
				}
			}
		}
	}
	return s, nil
}

// maxRSS is the peak resident set of a finished process, in bytes: on
// Linux the larger of the process's own and that of its largest waited-for
// child (git clone runs index-pack and a remote helper).
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

// report prints a Markdown table of the medians, then every run.
func report(o options, url string, gen time.Duration, results map[string][]sample) {
	order := []string{"gotk full reconcile", cliCZF, cliGzip1, cliClone, "gotk no-op reconcile", "git ls-remote (no-op check)"}
	fmt.Printf("repository: %d files x %d bytes, %d commits (%d files changed per commit), served by git http-backend at %s\n",
		o.files, o.fileSize, o.commits, o.changed, url)
	if gen > 0 {
		fmt.Printf("generated in %s\n", gen.Round(time.Millisecond))
	}
	fmt.Printf("%s, %d CPUs, %d runs\n\n", runtime.Version(), runtime.NumCPU(), o.runs)
	fmt.Println("| scenario | median time | min | max | CPU (median) | peak RSS (median) | Go heap peak / allocated |")
	fmt.Println("|---|---|---|---|---|---|---|")
	med := map[string]time.Duration{}
	medCPU := map[string]time.Duration{}
	for _, name := range order {
		ss := results[name]
		if len(ss) == 0 {
			continue
		}
		walls := make([]time.Duration, len(ss))
		cpus := make([]time.Duration, len(ss))
		rss := make([]int64, len(ss))
		for i, s := range ss {
			walls[i], cpus[i], rss[i] = s.wall, s.cpu, s.maxRSS
		}
		sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
		sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
		medCPU[name] = cpus[len(cpus)/2]
		sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
		med[name] = walls[len(walls)/2]
		alloc := "-"
		if ss[0].alloc > 0 {
			alloc = mib(int64(ss[0].heap)) + " / " + mib(int64(ss[0].alloc))
		}
		peak := mib(rss[len(rss)/2])
		if ss[0].baseRSS > 0 {
			peak += fmt.Sprintf(" (%s before the reconcile)", mib(ss[0].baseRSS))
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", name, ms(med[name]), ms(walls[0]), ms(walls[len(walls)-1]),
			ms(medCPU[name]), peak, alloc)
	}
	fmt.Println()
	for _, cli := range []string{cliCZF, cliGzip1} {
		if g, c := med["gotk full reconcile"], med[cli]; c > 0 {
			fmt.Printf("gotk full / %s: %.2fx wall time (target <= 1.5x), %.2fx CPU time\n", cli, float64(g)/float64(c),
				float64(medCPU["gotk full reconcile"])/float64(medCPU[cli]))
		}
	}
	if n := med["gotk no-op reconcile"]; n > 0 {
		fmt.Printf("gotk no-op: %s (target < 100 ms)\n", ms(n))
	}
	fmt.Println("\nruns:")
	for _, name := range order {
		for i, s := range results[name] {
			fmt.Printf("  %-36s run %d: %8s  cpu %8s  rss %s  %s\n", name, i+1, ms(s.wall), ms(s.cpu), mib(s.maxRSS), s.note)
		}
	}
}

func ms(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
