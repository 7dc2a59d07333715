// Command component runs the sample component, a fasthttp server that tests
// and benchmarks run in place of a platform component behind DFLB. See
// package sample for what it serves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dflb/dflb/sample"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("sample component failed", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	listen := flag.String("listen", "127.0.0.1:9001", "address to listen on, host:port")
	instance := flag.String("instance", "", "instance ID reported in responses (required)")
	component := flag.String("component", "app", "component name reported in responses")
	tenantList := flag.String("tenants", "", "comma-separated tenant IDs to serve")
	tenantFile := flag.String("tenants-file", "", "file with one tenant ID per line to serve in addition to -tenants; reread on SIGHUP")
	grace := flag.Duration("shutdown-grace", 10*time.Second, "time that requests in flight get to finish after SIGTERM or SIGINT")
	flag.Parse()

	tenants, err := loadTenants(*tenantList, *tenantFile)
	if err != nil {
		return err
	}
	srv, err := sample.New(sample.Config{Instance: *instance, Component: *component, Tenants: tenants}, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose a free address with -listen)", *listen, err)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)

	for {
		select {
		case err := <-served:
			return err
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				reload(srv, *tenantList, *tenantFile, logger)
				continue
			}
			logger.Info("shutting down", "signal", sig.String(), "grace", grace.String())
			ctx, cancel := context.WithTimeout(context.Background(), *grace)
			err := srv.Shutdown(ctx)
			cancel()
			return errors.Join(err, <-served)
		}
	}
}

// reload rereads the tenant file and keeps the current tenants when that fails.
func reload(srv *sample.Server, list, file string, logger *slog.Logger) {
	tenants, err := loadTenants(list, file)
	if err != nil {
		logger.Error("tenant reload failed, keeping the current tenants", "error", err, "current", srv.TenantCount())
		return
	}
	srv.SetTenants(tenants)
	logger.Info("tenants reloaded", "tenants", srv.TenantCount(), "file", file)
}

func loadTenants(list, file string) ([]string, error) {
	tenants, err := sample.ParseTenantList(list)
	if err != nil {
		return nil, fmt.Errorf("flag -tenants: %w", err)
	}
	if file == "" {
		return tenants, nil
	}

	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open tenant file (flag -tenants-file): %w", err)
	}
	defer f.Close()
	fromFile, err := sample.ParseTenantFile(f, file)
	if err != nil {
		return nil, err
	}
	return append(tenants, fromFile...), nil
}
