// Package local is a provider whose instances are processes on this
// machine: each instance is a DFM with its components, bound to its own
// loopback address 127.0.1.N.
//
// Every instance has a state directory <Root>/<name> with the files that
// DFM and the provider share: dfm.yaml, dfm.pid, dfm.log, instance.json and
// the components/ and tenants/ subdirectories. The directory is the only
// record, so a new Provider finds the instances that an earlier one left
// running. DFM runs in its own session so that it outlives the DFLB process
// that started it.
//
// The package is Linux-only because it reads /proc to tell live processes
// from zombies and from unrelated processes that reuse a PID.
package local

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/dflb/dflb/provider"
)

// DefaultImage is the only image name that Spec.Image accepts besides "".
const DefaultImage = "default"

// tokenEnv is the environment variable that carries the shared secret to DFM.
const tokenEnv = "DFM_TOKEN"

// Config configures a local Provider.
type Config struct {
	// Root is the directory that contains one state directory per instance.
	// It is created if missing. Required.
	Root string
	// Binary is the path of the dfm executable. Required.
	Binary string
	// ComponentBinary is the path of the sample component executable
	// (cmd/component) that every component template runs. Required.
	ComponentBinary string
	// Network is the first three octets of the instance addresses: instance
	// N gets <Network>.N, for N from 1 to 254. It must be a loopback
	// network. Default: 127.0.1.
	Network string
	// DFMPort is the port of the DFM API on each instance address.
	// Default: 7070.
	DFMPort int
	// Components is the component template set of the image "default".
	// Default: one component "app" on port 9001.
	Components []ComponentTemplate
	// Secret is the bearer secret with which Restart starts an instance that
	// this Provider did not create, because the secret is never written to
	// disk. Instances created through this Provider use the secret of their
	// Spec. Optional.
	Secret string
	// StopTimeout is the maximum time that DFM gets to stop its components
	// after SIGTERM before the provider kills every process of the
	// instance. Default: 30s.
	StopTimeout time.Duration
	// HealthTimeout is the maximum time of one request to DFM's /healthz.
	// Default: 1s.
	HealthTimeout time.Duration
}

// ComponentTemplate describes one component that DFM runs on every instance
// of an image.
type ComponentTemplate struct {
	// Name is the component name, such as "app". Required.
	Name string
	// Port is the TCP port of the component on the instance address.
	// Required.
	Port int
	// Args are appended to the arguments that the provider sets:
	// -instance, -component, -listen and -tenants-file.
	Args []string
	// Env is added to the component's environment.
	Env map[string]string
	// Grace is how long DFM waits after SIGTERM before it kills the
	// component. 0 leaves DFM's default.
	Grace time.Duration
	// StartTimeout is how long the component may take to become healthy.
	// 0 leaves DFM's default.
	StartTimeout time.Duration
}

// Provider runs instances as local processes. It implements
// provider.Provider. Its methods are safe for concurrent use, and calls for
// the same instance run one at a time.
type Provider struct {
	cfg    Config
	log    *slog.Logger
	health *http.Client
	locks  keyedLock

	mu sync.Mutex
	// children are the DFM processes that this Provider started and has
	// not yet seen exit, by instance name.
	children map[string]*child
	// secrets are the secrets of the instances created through this
	// Provider, by instance name.
	secrets map[string]string
}

var _ provider.Provider = (*Provider)(nil)

// New checks cfg, fills its defaults and returns a Provider. It creates
// cfg.Root if missing but starts nothing.
func New(cfg Config, logger *slog.Logger) (*Provider, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := ensureDir(cfg.Root); err != nil {
		return nil, err
	}
	return &Provider{
		cfg:      cfg,
		log:      logger.With("logger", "provider/local"),
		health:   newHealthClient(cfg.HealthTimeout),
		locks:    keyedLock{locks: make(map[string]*lockEntry)},
		children: make(map[string]*child),
		secrets:  make(map[string]string),
	}, nil
}

// fill sets defaults and validates every field.
func (c *Config) fill() error {
	if c.Network == "" {
		c.Network = "127.0.1"
	}
	if c.DFMPort == 0 {
		c.DFMPort = 7070
	}
	if len(c.Components) == 0 {
		c.Components = []ComponentTemplate{{Name: "app", Port: 9001}}
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 30 * time.Second
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = time.Second
	}

	var errs []error
	for _, field := range []struct{ name, value string }{
		{"Root", c.Root}, {"Binary", c.Binary}, {"ComponentBinary", c.ComponentBinary},
	} {
		if field.value == "" {
			errs = append(errs, fmt.Errorf("local: %s is required", field.name))
		}
	}
	for _, path := range []*string{&c.Root, &c.Binary, &c.ComponentBinary} {
		if *path == "" {
			continue
		}
		abs, err := filepath.Abs(*path)
		if err != nil {
			errs = append(errs, fmt.Errorf("local: making %q absolute: %w", *path, err))
			continue
		}
		*path = abs
	}
	errs = append(errs, validateNetwork(c.Network))
	if c.DFMPort < 1 || c.DFMPort > 65535 {
		errs = append(errs, fmt.Errorf("local: DFMPort %d is out of range: use 1 to 65535", c.DFMPort))
	}
	errs = append(errs, validateTemplates(c.Components, c.DFMPort)...)
	if c.StopTimeout < 0 || c.HealthTimeout < 0 {
		errs = append(errs, errors.New("local: StopTimeout and HealthTimeout must not be negative"))
	}
	return errors.Join(errs...)
}

func validateNetwork(network string) error {
	first, err := netip.ParseAddr(network + ".1")
	if err != nil || !first.Is4() {
		return fmt.Errorf("local: Network %q is not three IPv4 octets such as 127.0.1", network)
	}
	if !first.IsLoopback() {
		return fmt.Errorf("local: Network %q is not a loopback network: use 127.x.y", network)
	}
	return nil
}

// componentName is the component name syntax of DFLB's configuration.
var componentName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func validateTemplates(templates []ComponentTemplate, dfmPort int) []error {
	var errs []error
	names := make(map[string]bool)
	ports := map[int]string{dfmPort: "DFM"}
	for i, tmpl := range templates {
		if !componentName.MatchString(tmpl.Name) {
			errs = append(errs, fmt.Errorf("local: Components[%d].Name %q is invalid: use a lower-case DNS label such as app", i, tmpl.Name))
		} else if names[tmpl.Name] {
			errs = append(errs, fmt.Errorf("local: Components[%d].Name %q is a duplicate", i, tmpl.Name))
		}
		names[tmpl.Name] = true

		if tmpl.Port < 1 || tmpl.Port > 65535 {
			errs = append(errs, fmt.Errorf("local: Components[%d].Port %d is out of range: use 1 to 65535", i, tmpl.Port))
		} else if owner, inUse := ports[tmpl.Port]; inUse {
			errs = append(errs, fmt.Errorf("local: Components[%d].Port %d is already used by %s", i, tmpl.Port, owner))
		}
		ports[tmpl.Port] = tmpl.Name

		if tmpl.Grace < 0 || tmpl.StartTimeout < 0 {
			errs = append(errs, fmt.Errorf("local: Components[%d] %q: Grace and StartTimeout must not be negative", i, tmpl.Name))
		}
	}
	return errs
}
