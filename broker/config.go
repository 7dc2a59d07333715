package broker

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// tenantPlaceholder is replaced by the tenant ID in Config.TenantURL.
const tenantPlaceholder = "{tenant}"

// Config is the configuration of both APIs. The comment of each field names
// the YAML key suggested for a "broker" section.
type Config struct {
	// ServiceID is the GUID of the service offering in the catalog
	// (service_id). Required, and it must never change once a marketplace
	// has seen it.
	ServiceID string
	// ServiceName is the CLI-friendly name of the offering (service_name).
	// Default "dflb-tenant".
	ServiceName string
	// ServiceDescription is the catalog's one-line text
	// (service_description). Default "A tenant of the DFLB application platform".
	ServiceDescription string

	// UsernameEnv names the environment variable that contains the basic
	// authentication user name of the marketplace (username_env). Default
	// DFLB_BROKER_USERNAME.
	UsernameEnv string
	// PasswordEnv names the variable that contains its password
	// (password_env). Default DFLB_BROKER_PASSWORD.
	PasswordEnv string

	// TenantURL is the URL that a binding returns, with "{tenant}" replaced
	// by the tenant ID (tenant_url). Default
	// "http://{tenant}.apps.localhost:8080", which matches the default
	// tenant rule and listen address.
	TenantURL string

	// DefaultPlan is the plan name that the tenant API uses when a request
	// names none (default_plan). Empty selects the first plan.
	DefaultPlan string
	// Plans are the plans offered (plans). At least one is required.
	Plans []Plan
}

// DefaultConfig returns the defaults. ServiceID and Plans have none,
// because their IDs must be unique to each deployment.
func DefaultConfig() Config {
	return Config{
		ServiceName:        "dflb-tenant",
		ServiceDescription: "A tenant of the DFLB application platform",
		UsernameEnv:        "DFLB_BROKER_USERNAME",
		PasswordEnv:        "DFLB_BROKER_PASSWORD",
		TenantURL:          "http://" + tenantPlaceholder + ".apps.localhost:8080",
	}
}

// Validate checks every value and returns all problems joined into one
// error, each starting with its YAML key. CheckCredentials, not Validate,
// reads the credential variables.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	if err := checkOSBID(c.ServiceID); err != nil {
		add(fmt.Errorf("service_id: %w", err))
	}
	if err := checkCLIName(c.ServiceName); err != nil {
		add(fmt.Errorf("service_name: %w", err))
	}
	if strings.TrimSpace(c.ServiceDescription) == "" {
		add(errors.New("service_description: missing; the service catalog requires a description"))
	}

	add(checkEnvName("username_env", c.UsernameEnv))
	add(checkEnvName("password_env", c.PasswordEnv))
	if c.UsernameEnv != "" && c.UsernameEnv == c.PasswordEnv {
		add(fmt.Errorf("password_env: %q is also username_env; use two variables", c.PasswordEnv))
	}

	add(checkTenantURL(c.TenantURL))

	add(validatePlans("plans", c.Plans))
	for _, p := range c.Plans {
		if p.ID != "" && p.ID == c.ServiceID {
			add(fmt.Errorf("plans: plan %q has the service_id %q as its ID; give the plan its own GUID", p.Name, p.ID))
		}
	}
	if c.DefaultPlan != "" {
		if _, ok := findPlanByName(c.Plans, c.DefaultPlan); !ok {
			add(fmt.Errorf("default_plan: no plan is named %q; use one of: %s", c.DefaultPlan, planNames(c.Plans)))
		}
	}
	return errors.Join(errs...)
}

// CheckCredentials returns an error naming each credential variable that is
// unset or empty. Call it at start, because NewOSB cannot return one.
func (c Config) CheckCredentials() error {
	_, err := c.credentials(os.LookupEnv)
	return err
}

// TenantPlans returns the plans with the default plan first, the order in
// which NewTenantAPI expects them.
func (c Config) TenantPlans() []Plan {
	plans := slices.Clone(c.Plans)
	i := slices.IndexFunc(plans, func(p Plan) bool { return p.Name == c.DefaultPlan })
	if i > 0 {
		p := plans[i]
		plans = slices.Delete(plans, i, i+1)
		plans = slices.Insert(plans, 0, p)
	}
	return plans
}

// tenantURL returns the URL of the tenant id.
func (c Config) tenantURL(id string) string {
	return strings.ReplaceAll(c.TenantURL, tenantPlaceholder, id)
}

// credentials is the basic authentication user name and password that the
// marketplace must send.
type credentials struct {
	username string
	password string
}

// credentials reads the user name and password through lookup. The error
// names the variables, never their values.
func (c Config) credentials(lookup func(string) (string, bool)) (credentials, error) {
	var errs []error
	read := func(name string) string {
		v, _ := lookup(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("service broker: environment variable %s is unset or empty; set it to the credential that the marketplace sends", name))
		}
		return v
	}
	creds := credentials{username: read(c.UsernameEnv), password: read(c.PasswordEnv)}
	return creds, errors.Join(errs...)
}

// checkEnvName accepts a POSIX environment variable name.
func checkEnvName(key, name string) error {
	if name == "" {
		return fmt.Errorf("%s: missing; name an environment variable such as DFLB_BROKER_PASSWORD", key)
	}
	for i, c := range []byte(name) {
		ok := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			return fmt.Errorf("%s: %q is not a valid environment variable name; use letters, digits and '_', not starting with a digit", key, name)
		}
	}
	return nil
}

// checkTenantURL accepts an absolute http or https URL template with the
// tenant placeholder, in the host or in the path.
func checkTenantURL(template string) error {
	if !strings.Contains(template, tenantPlaceholder) {
		return fmt.Errorf("tenant_url: %q has no %s placeholder; use a URL such as http://%s.apps.example.com", template, tenantPlaceholder, tenantPlaceholder)
	}
	u, err := url.Parse(strings.ReplaceAll(template, tenantPlaceholder, "tenant-1"))
	if err != nil {
		return fmt.Errorf("tenant_url: %q is not a valid URL: %w", template, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("tenant_url: %q must be an absolute http or https URL", template)
	}
	return nil
}
