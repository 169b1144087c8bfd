// Command gotk is the command-line interface of gotk: it installs the
// controllers into a cluster, checks them, and takes them out again; it
// creates, lists, reconciles, suspends, exports and deletes the objects
// they reconcile, and shows their events, logs, inventories and stats.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
