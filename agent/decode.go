package agent

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/dflb/dflb/internal/strictyaml"
)

// Parse decodes a DFM configuration, fills defaults for missing keys and
// validates the result. name is the file name that error messages start with.
//
// The returned error joins every problem found. Each one names the file, the
// line and the key, and the component for keys under components, as in
// `dfm.yaml:9: unknown key "comand" in components[0] (component "app")`.
func Parse(data []byte, name string) (*Config, error) {
	root, err := strictyaml.ReadDocument(data, name)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, fmt.Errorf("%s: the file is empty; set at least instance, listen, state_dir and components", name)
	}

	c := DefaultConfig()
	d := strictyaml.NewDecoder(name)
	decodeConfig(d, root, c)
	if err := d.Err(); err != nil {
		return nil, err
	}
	c.lines = d.Lines()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

type field = strictyaml.Field

func decodeConfig(d *strictyaml.Decoder, n *yaml.Node, c *Config) {
	d.Mapping("", n,
		field{Key: "instance", Decode: d.String(&c.Instance)},
		field{Key: "listen", Decode: d.String(&c.Listen)},
		field{Key: "token_env", Decode: d.String(&c.TokenEnv)},
		field{Key: "state_dir", Decode: d.String(&c.StateDir)},
		field{Key: "notify", Decode: func(path string, n *yaml.Node) {
			d.Mapping(path, n,
				field{Key: "url", Decode: d.String(&c.Notify.URL)},
				field{Key: "queue", Decode: d.Int(&c.Notify.Queue)},
			)
		}},
		field{Key: "load", Decode: func(path string, n *yaml.Node) { decodeLoad(d, path, n, &c.Load) }},
		field{Key: "components", Decode: func(path string, n *yaml.Node) {
			list := []ComponentConfig{}
			d.Sequence(path, n, func(itemPath string, item *yaml.Node) {
				list = append(list, decodeComponent(d, itemPath, item))
			})
			c.Components = list
		}},
	)
}

func decodeLoad(d *strictyaml.Decoder, path string, n *yaml.Node, l *LoadConfig) {
	d.Mapping(path, n,
		field{Key: "interval", Decode: d.Duration(&l.Interval)},
		field{Key: "overload_cpu", Decode: d.Float(&l.OverloadCPU)},
		field{Key: "overload_window", Decode: d.Duration(&l.OverloadWindow)},
		field{Key: "low_cpu", Decode: d.Float(&l.LowCPU)},
		field{Key: "low_window", Decode: d.Duration(&l.LowWindow)},
		field{Key: "hysteresis", Decode: d.Float(&l.Hysteresis)},
	)
}

func decodeComponent(d *strictyaml.Decoder, path string, n *yaml.Node) ComponentConfig {
	cc := DefaultComponent()
	if name := peekName(n); name != "" {
		d.Label(path, fmt.Sprintf("component %q", name))
	}
	h, r := &cc.Health, &cc.Restart
	d.Mapping(path, n,
		field{Key: "name", Decode: d.String(&cc.Name)},
		field{Key: "command", Decode: d.String(&cc.Command)},
		field{Key: "args", Decode: d.StringList(&cc.Args)},
		field{Key: "env", Decode: d.StringMap(&cc.Env)},
		field{Key: "port", Decode: d.Int(&cc.Port)},
		field{Key: "health", Decode: func(path string, n *yaml.Node) {
			d.Mapping(path, n,
				field{Key: "path", Decode: d.String(&h.Path)},
				field{Key: "interval", Decode: d.Duration(&h.Interval)},
				field{Key: "timeout", Decode: d.Duration(&h.Timeout)},
				field{Key: "failure_threshold", Decode: d.Int(&h.FailureThreshold)},
			)
		}},
		field{Key: "start_timeout", Decode: d.Duration(&cc.StartTimeout)},
		field{Key: "stop_signal", Decode: d.String(&cc.StopSignal)},
		field{Key: "grace", Decode: d.Duration(&cc.Grace)},
		field{Key: "restart", Decode: func(path string, n *yaml.Node) {
			d.Mapping(path, n,
				field{Key: "backoff_min", Decode: d.Duration(&r.BackoffMin)},
				field{Key: "backoff_max", Decode: d.Duration(&r.BackoffMax)},
				field{Key: "reset_after", Decode: d.Duration(&r.ResetAfter)},
				field{Key: "crash_loop_max", Decode: d.Int(&r.CrashLoopMax)},
				field{Key: "crash_loop_window", Decode: d.Duration(&r.CrashLoopWindow)},
				field{Key: "no_retry_exit_codes", Decode: d.IntList(&r.NoRetryExitCodes)},
			)
		}},
		field{Key: "tenants_reload", Decode: d.String(&cc.TenantsReload)},
		field{Key: "autostart", Decode: d.Bool(&cc.Autostart)},
	)
	return cc
}

// peekName returns the name of a component mapping before it is decoded, so
// that errors about its other keys can name it.
func peekName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Value == "name" && value.Kind == yaml.ScalarNode {
			return value.Value
		}
	}
	return ""
}
