package digitalocean

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/digitalocean/godo"

	"github.com/dflb/dflb/provider"
)

// Tag prefixes. The API allows letters, digits, ':', '-' and '_' in tags,
// and neither a cluster nor an instance name contains ':', so each tag
// splits back into its parts without ambiguity.
const (
	// clusterTagPrefix + cluster is on every droplet of the cluster.
	clusterTagPrefix = "dflb-cluster:"
	// instanceTagPrefix + cluster + ":" + name is on the droplet of one
	// instance.
	instanceTagPrefix = "dflb-instance:"
	// labelTagPrefix + label stores each of Spec.Tags.
	labelTagPrefix = "dflb-tag:"
)

// maxTagLen is the API's maximum tag length.
const maxTagLen = 255

// maxDropletNameLen keeps the droplet name, which cloud-init makes the
// hostname, within one DNS label.
const maxDropletNameLen = 63

// instanceNamePattern accepts the instance IDs of DFLB's configuration
// that fit into a tag. Upper case is left out because the API treats tags
// that differ only in case as one tag.
var instanceNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)

func (p *Provider) clusterTag() string { return clusterTagPrefix + p.cfg.Cluster }

func (p *Provider) instanceTag(name string) string {
	return instanceTagPrefix + p.cfg.Cluster + ":" + name
}

// dropletName returns the droplet's display name and hostname. The
// instance tag, not the name, identifies the droplet.
func (p *Provider) dropletName(name string) string {
	dropletName := p.cfg.Cluster + "-" + strings.ReplaceAll(name, "_", "-")
	if len(dropletName) > maxDropletNameLen {
		dropletName = dropletName[:maxDropletNameLen]
	}
	return strings.TrimRight(dropletName, "-")
}

// dropletTags returns every tag of the droplet of spec.
func (p *Provider) dropletTags(spec provider.Spec) []string {
	tags := []string{p.clusterTag(), p.instanceTag(spec.Name)}
	for _, label := range spec.Tags {
		tags = append(tags, labelTagPrefix+label)
	}
	tags = append(tags, p.cfg.Tags...)
	slices.Sort(tags)
	return slices.Compact(tags)
}

// inCluster reports whether the droplet has the cluster tag.
func (p *Provider) inCluster(d *godo.Droplet) bool {
	return slices.Contains(d.Tags, p.clusterTag())
}

// instanceName returns the instance name from the droplet's instance tag,
// or "" when it has none.
func (p *Provider) instanceName(d *godo.Droplet) string {
	prefix := instanceTagPrefix + p.cfg.Cluster + ":"
	for _, tag := range d.Tags {
		if name, ok := strings.CutPrefix(tag, prefix); ok {
			return name
		}
	}
	return ""
}

// labels returns Spec.Tags as stored on the droplet.
func labels(d *godo.Droplet) []string {
	var labels []string
	for _, tag := range d.Tags {
		if label, ok := strings.CutPrefix(tag, labelTagPrefix); ok {
			labels = append(labels, label)
		}
	}
	return labels
}

// validateSpec checks what Create needs from spec.
func (p *Provider) validateSpec(spec provider.Spec) error {
	var errs []error
	if !instanceNamePattern.MatchString(spec.Name) {
		errs = append(errs, fmt.Errorf("invalid instance name %q: use 1 to 128 of a-z, 0-9, '_' and '-', starting with a letter or digit, because the name becomes a droplet tag", spec.Name))
	} else if tag := p.instanceTag(spec.Name); len(tag) > maxTagLen {
		errs = append(errs, fmt.Errorf("instance name %q makes the tag %q longer than %d characters: use a shorter name", spec.Name, tag, maxTagLen))
	}
	for i, label := range spec.Tags {
		if !tagPattern.MatchString(label) || len(labelTagPrefix+label) > maxTagLen {
			errs = append(errs, fmt.Errorf("invalid Spec.Tags[%d] %q: use letters, digits, ':', '-' and '_', at most %d characters", i, label, maxTagLen-len(labelTagPrefix)))
		}
	}
	if spec.Image != "" && !slugPattern.MatchString(spec.Image) {
		errs = append(errs, fmt.Errorf("invalid image %q: use a numeric image ID or a slug", spec.Image))
	}
	if err := validateSecret(spec.Bootstrap.Secret); err != nil {
		errs = append(errs, err)
	}
	if err := validateNotifyURL(spec.Bootstrap.NotifyURL); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
