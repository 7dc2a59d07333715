// Command dflb-demo runs DFLB with local instances through the five
// situations of the platform under load, prints each decision of the
// control plane as it happens, and ends with one summary line:
//
//	demo: sent N failed F misrouted M
//
// It exits with status 1 when a request failed or was misrouted.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/dflb/dflb/demo"
)

func main() {
	binDir := flag.String("bin", "bin", "directory with the dflb, dfm and component programs")
	dir := flag.String("dir", ".dflb-demo", "directory for the demo's configuration, state, instances and logs; emptied first")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	res, err := demo.Run(ctx, demo.Options{BinDir: *binDir, Dir: *dir, Out: os.Stdout})
	fmt.Println()
	for _, name := range slices.Sorted(maps.Keys(res.Took)) {
		fmt.Printf("situation %-22s trigger to new routing %s\n", name, res.Took[name].Round(time.Millisecond))
	}
	fmt.Printf("demo: sent %d failed %d misrouted %d\n", res.Sent, res.Failed, res.Misrouted)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dflb-demo:", err)
		os.Exit(1)
	}
	if res.Failed > 0 || res.Misrouted > 0 {
		os.Exit(1)
	}
}
