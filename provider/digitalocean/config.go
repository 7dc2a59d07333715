package digitalocean

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// Defaults of Config.
const (
	DefaultTokenEnv             = "DIGITALOCEAN_TOKEN"
	DefaultAPIURL               = "https://api.digitalocean.com/"
	DefaultMaxDroplets          = 10
	DefaultDFMPort              = 7070
	DefaultComponentBinary      = "/usr/local/bin/component"
	DefaultCreateTimeout        = 5 * time.Minute
	DefaultReadyTimeout         = 5 * time.Minute
	DefaultRebootTimeout        = 2 * time.Minute
	DefaultActionTimeout        = 5 * time.Minute
	DefaultPollInterval         = 5 * time.Second
	DefaultRequestTimeout       = 30 * time.Second
	DefaultHealthRequestTimeout = 2 * time.Second
	DefaultMaxRetries           = 4
	DefaultRateLimitMaxWait     = time.Minute
)

// Config configures a DigitalOcean Provider. Each field documents the YAML
// key under provider.digitalocean that sets it.
type Config struct {
	// TokenEnv names the environment variable that contains the API token.
	// New reads the token from it once. The token itself is never part of
	// the configuration. YAML: token_env. Default: DIGITALOCEAN_TOKEN.
	TokenEnv string
	// APIURL is the base URL of the DigitalOcean API. Only tests and fakes
	// change it. It must have no path, because godo resolves every request
	// path against the root. Plain http is accepted only for a loopback
	// host. YAML: api_url. Default: https://api.digitalocean.com/.
	APIURL string
	// Cluster names this DFLB cluster. Every droplet gets the tag
	// dflb-cluster:<cluster>, and List and the MaxDroplets count see only
	// droplets with that tag. 1 to 32 of a-z, 0-9 and '-'. YAML: cluster.
	// Required.
	Cluster string
	// Region is the region slug, such as nyc3. YAML: region. Required.
	Region string
	// Size is the droplet size slug, such as s-1vcpu-1gb. YAML: size.
	// Required.
	Size string
	// Image is the snapshot that droplets boot: a numeric image ID or a
	// slug. Spec.Image overrides it per instance. YAML: image. Required.
	Image string
	// VPCUUID is the VPC that droplets join. DFLB reaches DFM and the
	// components at the droplet's address in this VPC, so DFLB must run in
	// it too. YAML: vpc_uuid. Required.
	VPCUUID string
	// SSHKeys are the SSH keys installed on every droplet, each a numeric
	// key ID or a fingerprint. YAML: ssh_keys. Optional.
	SSHKeys []string
	// Tags are added to every droplet, for example to attach a cloud
	// firewall. Letters, digits, ':', '-' and '_', at most 255 each.
	// YAML: tags. Optional.
	Tags []string
	// MaxDroplets is the maximum number of droplets with the cluster tag.
	// Create fails without creating a droplet when the cluster already has
	// that many. YAML: max_droplets. Default: 10.
	MaxDroplets int
	// DFMPort is the port of DFM's API on the droplet's VPC address.
	// YAML: dfm_port. Default: 7070.
	DFMPort int
	// ComponentBinary is the absolute path of the component program in the
	// image, which DFM runs for every component. YAML: component_binary.
	// Default: /usr/local/bin/component.
	ComponentBinary string
	// Components are the components that DFM runs on every droplet.
	// YAML: components. Default: one component app on port 9001.
	Components []ComponentTemplate
	// CreateTimeout is the maximum wait for the droplet to become active
	// with a VPC address, after the create request and after a restart.
	// YAML: create_timeout. Default: 5m.
	CreateTimeout time.Duration
	// ReadyTimeout is the maximum wait for DFM's /healthz to return 200 once
	// the droplet is active, which includes cloud-init's run on first boot.
	// YAML: ready_timeout. Default: 5m.
	ReadyTimeout time.Duration
	// RebootTimeout is the maximum wait for a reboot action to complete.
	// After it, Restart power cycles the droplet. YAML: reboot_timeout.
	// Default: 2m.
	RebootTimeout time.Duration
	// ActionTimeout is the maximum wait for a power cycle or power on
	// action to complete. YAML: action_timeout. Default: 5m.
	ActionTimeout time.Duration
	// PollInterval is the time between two status requests while the
	// provider waits for a droplet, an action or DFM. YAML: poll_interval.
	// Default: 5s.
	PollInterval time.Duration
	// RequestTimeout is the maximum time of one API request.
	// YAML: request_timeout. Default: 30s.
	RequestTimeout time.Duration
	// HealthRequestTimeout is the maximum time of one request to DFM's
	// /healthz. YAML: health_timeout. Default: 2s.
	HealthRequestTimeout time.Duration
	// MaxRetries is how many times a failed API request is repeated after
	// a rate limit, a 5xx status or a timeout. 0 means the default.
	// YAML: max_retries. Default: 4.
	MaxRetries int
	// RateLimitMaxWait is the longest wait for the API rate limit to reset.
	// A call that would wait longer fails with a rate-limited error whose
	// RetryAfter is the remaining wait. YAML: rate_limit_max_wait.
	// Default: 1m.
	RateLimitMaxWait time.Duration
	// HealthClient sends the /healthz requests to DFM. Nil means a client
	// with HealthRequestTimeout. It is not a YAML key: tests set it to reach
	// a loopback server.
	HealthClient *http.Client
}

// ComponentTemplate is one component that DFM runs on every droplet.
type ComponentTemplate struct {
	// Name is the component name, such as app. YAML: name. Required.
	Name string
	// Port is the TCP port of the component on the droplet's VPC address.
	// YAML: port. Required.
	Port int
	// Args are appended to the arguments that the provider sets:
	// -instance, -component, -listen and -tenants-file. YAML: args.
	Args []string
}

var (
	// clusterPattern keeps the cluster tag short and readable.
	clusterPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	// tagPattern is the tag syntax of the DigitalOcean API.
	tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_:-]{1,255}$`)
	// componentPattern is the component name syntax of DFLB's configuration.
	componentPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// uuidPattern is the form of a VPC UUID.
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// slugPattern is the form of region, size and image slugs.
	slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// fill sets the defaults and returns every invalid value, joined.
func (c *Config) fill() error {
	c.setDefaults()

	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("digitalocean: "+format, args...))
	}

	if c.Cluster == "" {
		add("cluster is missing: set provider.digitalocean.cluster to a short name such as prod")
	} else if !clusterPattern.MatchString(c.Cluster) {
		add("cluster %q is invalid: use 1 to 32 of a-z, 0-9 and '-', starting and ending with a letter or digit", c.Cluster)
	}
	for _, field := range []struct{ key, value, example string }{
		{"region", c.Region, "nyc3"},
		{"size", c.Size, "s-1vcpu-1gb"},
		{"image", c.Image, "the ID of your DFM snapshot"},
	} {
		if field.value == "" {
			add("%s is missing: set provider.digitalocean.%s, such as %s", field.key, field.key, field.example)
		} else if !slugPattern.MatchString(field.value) {
			add("%s %q is invalid: use a DigitalOcean slug or numeric ID", field.key, field.value)
		}
	}
	if c.VPCUUID == "" {
		add("vpc_uuid is missing: set provider.digitalocean.vpc_uuid to the VPC that DFLB runs in")
	} else if !uuidPattern.MatchString(c.VPCUUID) {
		add("vpc_uuid %q is not a UUID: copy the VPC's ID from the control panel or doctl vpcs list", c.VPCUUID)
	}
	for i, key := range c.SSHKeys {
		if key == "" {
			add("ssh_keys[%d] is empty: use a key ID or fingerprint", i)
		}
	}
	for i, tag := range c.Tags {
		if !tagPattern.MatchString(tag) {
			add("tags[%d] %q is invalid: use 1 to 255 letters, digits, ':', '-' or '_'", i, tag)
		}
	}
	if c.MaxDroplets < 1 {
		add("max_droplets %d is less than 1: set the maximum number of droplets of this cluster", c.MaxDroplets)
	}
	if c.DFMPort < 1 || c.DFMPort > 65535 {
		add("dfm_port %d is out of range: use 1 to 65535", c.DFMPort)
	}
	if len(c.ComponentBinary) == 0 || c.ComponentBinary[0] != '/' {
		add("component_binary %q is not an absolute path: set the path of the component program in the image", c.ComponentBinary)
	}
	errs = append(errs, validateComponents(c.Components, c.DFMPort)...)
	errs = append(errs, c.validateDurations()...)
	if c.MaxRetries < 0 {
		add("max_retries %d is negative: set how many times a failed request is repeated, such as 4", c.MaxRetries)
	}
	if err := validateAPIURL(c.APIURL); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// setDefaults fills every zero field with its default.
func (c *Config) setDefaults() {
	setString(&c.TokenEnv, DefaultTokenEnv)
	setString(&c.APIURL, DefaultAPIURL)
	setString(&c.ComponentBinary, DefaultComponentBinary)
	if c.MaxDroplets == 0 {
		c.MaxDroplets = DefaultMaxDroplets
	}
	if c.DFMPort == 0 {
		c.DFMPort = DefaultDFMPort
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if len(c.Components) == 0 {
		c.Components = []ComponentTemplate{{Name: "app", Port: 9001}}
	}
	setDuration(&c.CreateTimeout, DefaultCreateTimeout)
	setDuration(&c.ReadyTimeout, DefaultReadyTimeout)
	setDuration(&c.RebootTimeout, DefaultRebootTimeout)
	setDuration(&c.ActionTimeout, DefaultActionTimeout)
	setDuration(&c.PollInterval, DefaultPollInterval)
	setDuration(&c.RequestTimeout, DefaultRequestTimeout)
	setDuration(&c.HealthRequestTimeout, DefaultHealthRequestTimeout)
	setDuration(&c.RateLimitMaxWait, DefaultRateLimitMaxWait)
}

func setString(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

func setDuration(field *time.Duration, value time.Duration) {
	if *field == 0 {
		*field = value
	}
}

func (c *Config) validateDurations() []error {
	var errs []error
	for _, d := range []struct {
		key   string
		value time.Duration
	}{
		{"create_timeout", c.CreateTimeout},
		{"ready_timeout", c.ReadyTimeout},
		{"reboot_timeout", c.RebootTimeout},
		{"action_timeout", c.ActionTimeout},
		{"poll_interval", c.PollInterval},
		{"request_timeout", c.RequestTimeout},
		{"health_timeout", c.HealthRequestTimeout},
		{"rate_limit_max_wait", c.RateLimitMaxWait},
	} {
		if d.value < 0 {
			errs = append(errs, fmt.Errorf("digitalocean: %s %s is negative: use a positive duration such as 30s, or leave it out for the default", d.key, d.value))
		}
	}
	return errs
}

func validateComponents(components []ComponentTemplate, dfmPort int) []error {
	var errs []error
	names := make(map[string]bool)
	ports := map[int]string{dfmPort: "DFM (dfm_port)"}
	for i, comp := range components {
		if !componentPattern.MatchString(comp.Name) {
			errs = append(errs, fmt.Errorf("digitalocean: components[%d].name %q is invalid: use a lower-case DNS label such as app", i, comp.Name))
		} else if names[comp.Name] {
			errs = append(errs, fmt.Errorf("digitalocean: components[%d].name %q is a duplicate: give each component its own name", i, comp.Name))
		}
		names[comp.Name] = true

		if comp.Port < 1 || comp.Port > 65535 {
			errs = append(errs, fmt.Errorf("digitalocean: components[%d].port %d is out of range: use 1 to 65535", i, comp.Port))
		} else if owner, used := ports[comp.Port]; used {
			errs = append(errs, fmt.Errorf("digitalocean: components[%d].port %d is already used by %s", i, comp.Port, owner))
		}
		ports[comp.Port] = "components[" + strconv.Itoa(i) + "]"
	}
	return errs
}
