package digitalocean

import (
	"context"
	"fmt"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// vpcIPRange returns the IP range of the configured VPC, which the
// first-boot script needs to find the droplet's VPC address. It reads the
// VPC once per Provider and caches the range, but not a failure.
func (p *Provider) vpcIPRange(ctx context.Context, op, name string) (string, error) {
	p.vpcMu.Lock()
	defer p.vpcMu.Unlock()
	if p.vpcRange != "" {
		return p.vpcRange, nil
	}

	var vpc *godo.VPC
	endpoint := "GET /v2/vpcs/" + p.cfg.VPCUUID
	err := p.call(ctx, endpoint, true, func(ctx context.Context) (resp *godo.Response, err error) {
		vpc, resp, err = p.api.VPCs.Get(ctx, p.cfg.VPCUUID)
		return resp, err
	})
	if isNotFound(err) {
		return "", opError(provider.KindPermanent, op, name, fmt.Errorf("vpc_uuid %s: no such VPC in this account: %w", p.cfg.VPCUUID, err))
	}
	if err != nil {
		return "", apiOpError(op, name, fmt.Errorf("reading VPC %s: %w", p.cfg.VPCUUID, err))
	}
	if vpc == nil {
		return "", opError(provider.KindTransient, op, name, fmt.Errorf("reading VPC %s: %s returned no VPC", p.cfg.VPCUUID, endpoint))
	}
	if vpc.RegionSlug != "" && vpc.RegionSlug != p.cfg.Region {
		return "", opError(provider.KindPermanent, op, name, fmt.Errorf("vpc_uuid %s is in region %s, not in region %s: use a VPC of that region or change provider.digitalocean.region", p.cfg.VPCUUID, vpc.RegionSlug, p.cfg.Region))
	}
	p.vpcRange = vpc.IPRange
	return p.vpcRange, nil
}
