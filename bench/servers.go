package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// startComponents starts the sample components and waits until each serves
// BenchTenant.
func (h *harness) startComponents(ctx context.Context) error {
	for _, in := range platform() {
		tenantFile := filepath.Join(h.dir, in.id+"-tenants.txt")
		if err := os.WriteFile(tenantFile, []byte(strings.Join(in.tenants, "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("write tenant file for %s: %w", in.id, err)
		}
		c, err := h.procs.start("component "+in.id, filepath.Join(h.dir, in.id+".log"), h.opts.Component,
			"-listen", in.addr, "-instance", in.id, "-component", "app", "-tenants-file", tenantFile)
		if err != nil {
			return err
		}
		base := "http://" + in.addr
		if err := waitReady(ctx, c, h.opts.StartTimeout,
			probe{url: base + "/healthz"},
			probe{url: base + "/", tenant: BenchTenant},
		); err != nil {
			return err
		}
	}
	return nil
}

// startNginx writes nginx.conf and starts NGINX in the foreground.
func (h *harness) startNginx(ctx context.Context) error {
	conf := NginxConfig{
		Dir:       h.dir,
		Listen:    addrNginx,
		Workers:   runtime.NumCPU(),
		Keepalive: 256,
	}
	instances := platform()
	all := NginxUpstream{Name: "i1_i2"}
	for _, in := range instances {
		conf.Upstreams = append(conf.Upstreams, NginxUpstream{Name: in.id, Servers: []string{in.addr}})
		all.Servers = append(all.Servers, in.addr)
		for _, id := range in.tenants {
			if id != BenchTenant {
				conf.Routes = append(conf.Routes, NginxRoute{Host: id + HostSuffix, Upstream: in.id})
			}
		}
	}
	conf.Upstreams = append(conf.Upstreams, all)
	conf.Routes = append(conf.Routes, NginxRoute{Host: BenchTenant + HostSuffix, Upstream: all.Name})

	path := filepath.Join(h.dir, "nginx.conf")
	if err := writeFile(path, func(f *os.File) error { return WriteNginxConf(f, conf) }); err != nil {
		return err
	}
	// -e sends errors to the temp dir even before nginx.conf is read, so the
	// system's log directory is never touched.
	c, err := h.procs.start("nginx", filepath.Join(h.dir, "nginx.log"), h.nginx,
		"-p", h.dir, "-e", filepath.Join(h.dir, "error.log"), "-c", path)
	if err != nil {
		return err
	}
	return waitReady(ctx, c, h.opts.StartTimeout, proxyProbes("http://"+addrNginx)...)
}

// startDFLB writes the DFLB config and starts DFLB.
func (h *harness) startDFLB(ctx context.Context) error {
	conf := DFLBConfig{Listen: addrDFLB, AdminListen: addrDFLBAdmin, Component: "app"}
	for _, in := range platform() {
		conf.Instances = append(conf.Instances, DFLBInstance{ID: in.id, Addr: in.addr, Tenants: in.tenants})
	}

	path := filepath.Join(h.dir, "dflb.yaml")
	if err := writeFile(path, func(f *os.File) error { return WriteDFLBConfig(f, conf) }); err != nil {
		return err
	}
	c, err := h.procs.start("dflb", filepath.Join(h.dir, "dflb.log"), h.opts.DFLB, "-config", path)
	if err != nil {
		return err
	}
	probes := append([]probe{{url: "http://" + addrDFLBAdmin + "/healthz"}}, proxyProbes("http://"+addrDFLB)...)
	return waitReady(ctx, c, h.opts.StartTimeout, probes...)
}

// proxyProbes checks that a proxy routes the bench tenant and a tenant of
// each instance.
func proxyProbes(base string) []probe {
	return []probe{
		{url: base + "/?size=1", host: BenchTenant + HostSuffix},
		{url: base + "/?size=1", host: "t0001" + HostSuffix},
		{url: base + "/?size=1", host: "t1000" + HostSuffix},
	}
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
