package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/dflb/dflb/provider"
)

// meta is the content of instance.json, the provider's record of an
// instance. The address in it reserves 127.0.1.N for the instance.
type meta struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Tags    []string  `json:"tags"`
	Address string    `json:"address"`
	Created time.Time `json:"created"`
}

// instanceName is the syntax of Spec.Name. The name becomes a directory
// name, so it must not start with a dot or contain a slash.
var instanceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func validateName(name string) error {
	if !instanceName.MatchString(name) {
		return fmt.Errorf("invalid instance name %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// dir returns the state directory of the instance.
func (p *Provider) dir(name string) string { return filepath.Join(p.cfg.Root, name) }

func (p *Provider) metaPath(name string) string { return filepath.Join(p.dir(name), "instance.json") }

func (p *Provider) configPath(name string) string { return filepath.Join(p.dir(name), "dfm.yaml") }

func (p *Provider) logPath(name string) string { return filepath.Join(p.dir(name), "dfm.log") }

func (p *Provider) pidPath(name string) string { return filepath.Join(p.dir(name), "dfm.pid") }

func (p *Provider) componentPIDGlob(name string) string {
	return filepath.Join(p.dir(name), "components", "*.pid")
}

// readMeta reads instance.json. A missing file is an error that matches
// fs.ErrNotExist.
func (p *Provider) readMeta(name string) (meta, error) {
	var m meta
	data, err := os.ReadFile(p.metaPath(name))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("reading %s: %w (delete the instance directory if it is not an instance)", p.metaPath(name), err)
	}
	if m.Name != name || net.ParseIP(m.Address) == nil {
		return m, fmt.Errorf("reading %s: name %q or address %q does not match the directory (delete the instance directory if it is not an instance)", p.metaPath(name), m.Name, m.Address)
	}
	return m, nil
}

// writeMeta writes instance.json atomically, so a reader never sees half a
// file.
func (p *Provider) writeMeta(m meta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p.metaPath(m.Name), append(data, '\n'), 0o644)
}

func (p *Provider) dfmURL(address string) string {
	return "http://" + net.JoinHostPort(address, strconv.Itoa(p.cfg.DFMPort))
}

func (p *Provider) instance(m meta, state provider.State) provider.Instance {
	return provider.Instance{
		ID:      m.ID,
		Name:    m.Name,
		Tags:    append([]string(nil), m.Tags...),
		Address: m.Address,
		DFMURL:  p.dfmURL(m.Address),
		State:   state,
		Created: m.Created,
	}
}

// listNames returns the names of the directories under Root that contain
// an instance.json.
func (p *Provider) listNames() ([]string, error) {
	entries, err := os.ReadDir(p.cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("reading instance root %s: %w", p.cfg.Root, err)
	}
	var names []string
	for _, entry := range entries {
		if !entry.IsDir() || validateName(entry.Name()) != nil {
			continue
		}
		if _, err := os.Stat(p.metaPath(entry.Name())); err == nil {
			names = append(names, entry.Name())
		}
	}
	return names, nil
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), perm)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func ensureDir(path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("local: creating directory %s: %w", path, err)
	}
	return nil
}
