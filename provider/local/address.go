package local

import (
	"fmt"
	"net"
	"strconv"
)

// maxHost is the last host number of an instance address <Network>.N.
const maxHost = 254

// freeAddress returns the lowest <Network>.N that no instance directory
// claims and whose DFM and component ports are free. The port check keeps
// the provider from handing out an address that some other program already
// listens on. The caller holds the root lock.
func (p *Provider) freeAddress() (string, error) {
	names, err := p.listNames()
	if err != nil {
		return "", err
	}
	claimed := make(map[string]string)
	for _, name := range names {
		if m, err := p.readMeta(name); err == nil {
			claimed[m.Address] = name
		}
	}

	for n := 1; n <= maxHost; n++ {
		address := p.cfg.Network + "." + strconv.Itoa(n)
		if _, inUse := claimed[address]; inUse {
			continue
		}
		if err := p.checkPortsFree(address); err != nil {
			p.log.Debug("skipping address with a port in use", "address", address, "error", err)
			continue
		}
		return address, nil
	}
	return "", fmt.Errorf("no free address in %s.1 to %s.%d: delete an instance or set another local.Config.Network", p.cfg.Network, p.cfg.Network, maxHost)
}

// checkPortsFree binds each port of an instance at address and releases it.
func (p *Provider) checkPortsFree(address string) error {
	ports := []int{p.cfg.DFMPort}
	for _, tmpl := range p.cfg.Components {
		ports = append(ports, tmpl.Port)
	}
	for _, port := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		ln.Close()
	}
	return nil
}
